"""The client side of a session: links to an editing server, one per protocol generation (see :mod:`.link`)."""
