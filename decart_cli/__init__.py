"""decart: realtime AI video editing from the command line."""

# OpenCV first, before anything loads PyAV (aiortc does): both wheels bundle
# libxcb-shm/-shape/-xfixes under the same names but built against their own
# libxcb, and whichever is loaded first serves the whole process. With PyAV's
# copies, OpenCV's Qt window hangs in xcb_shm_query_version.
import cv2 as _cv2  # noqa: F401

__version__ = "0.1.0"
