/*
 * tests/js/harness.js: Decart's official JavaScript SDK in a browser page, for
 * tests/test_js_sdk.py.
 *
 * What it is: the entry module of a bundle (esbuild, `make js-harness`:
 * `npm ci` from package-lock.json, then dist/harness.js) of `@decartai/sdk`
 * 0.1.20, which carries LiveKit's browser client (`livekit-client` ~2.20).
 * harness.html loads the bundle; the test drives it over the DevTools
 * protocol (tests/interop/cdp.py), calling `window.harness.*` and awaiting
 * the promises they return. Every call returns plain JSON.
 *
 * It uses the SDK's public API only, as a web developer would:
 * createDecartClient, models.realtime, client.realtime.connect / subscribe,
 * the realtime client's setPrompt / set / setImage / on / disconnect,
 * client.tokens.create and client.files.upload. The one thing it adds is
 * observation: a count of the WebSockets the page opens to /v1/stream (the
 * SDK's control channel), to see how often the SDK tried.
 *
 * The camera is either a canvas it draws itself (`source: "canvas"`: left
 * half red (200, 0, 0), right half blue (0, 0, 200), redrawn at 30 fps with
 * a tiny moving mark so the encoder keeps sending) or the browser's camera
 * (`source: "camera"`: getUserMedia, Chromium's fake device in the tests).
 * The edited video goes to a <video>; each frame it presents
 * (requestVideoFrameCallback) is counted and, for the first frames and then
 * about ten times a second, drawn into a small canvas and averaged over
 * regions: `left` (left quarter), `right` (right quarter, lower half),
 * `corner` (top right, where the local engine puts a reference image's
 * picture-in-picture), `all` (the whole frame). Colours are RGB.
 *
 * Nothing here reaches beyond the server the test names (127.0.0.1 inside
 * the test's network namespace); telemetry is off.
 */
import { createConsoleLogger, createDecartClient, models } from "@decartai/sdk";

const SAMPLE_W = 160;
const SAMPLE_H = 90;
const RED = [200, 0, 0];
const BLUE = [0, 0, 200];

// -- observation: control sockets opened by the page ----------------------------

const sockets = [];
const NativeWebSocket = window.WebSocket;
class CountingWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    const parsed = new URL(url, location.href);
    sockets.push({ path: parsed.pathname, t: performance.now() });
  }
}
window.WebSocket = CountingWebSocket;

// -- helpers -----------------------------------------------------------------------

const sessions = new Map(); // name -> session record
const viewers = new Map(); // name -> viewer record
const clients = new Map(); // "key|server" -> DecartClient
const blobs = new Map(); // name -> Blob made by makeImage

function errorText(error) {
  if (error == null) return String(error);
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message || String(error);
  if (typeof error === "object" && "message" in error) {
    return error.code ? `${error.code}: ${error.message}` : String(error.message);
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function since(t0) {
  return Math.round(performance.now() - t0) / 1000;
}

function client({ apiKey, server }) {
  // server: "127.0.0.1:PORT" of `decart serve`; the REST base must be given
  // too, or realtime.subscribe would use https:// of the realtime base.
  const key = `${apiKey}|${server}`;
  if (!clients.has(key)) {
    clients.set(
      key,
      createDecartClient({
        apiKey,
        realtimeBaseUrl: `ws://${server}`,
        baseUrl: `http://${server}`,
        telemetry: false,
        logger: createConsoleLogger(window.harnessLogLevel || "info"),
      }),
    );
  }
  return clients.get(key);
}

function modelDefinition(model) {
  // A name the SDK lists, or a custom definition {name, urlPath, fps, width, height}.
  return typeof model === "string" ? models.realtime(model) : model;
}

function makeCanvasStream(width, height, fps = 30) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  let tick = 0;
  const draw = () => {
    ctx.fillStyle = `rgb(${RED.join(",")})`;
    ctx.fillRect(0, 0, width / 2, height);
    ctx.fillStyle = `rgb(${BLUE.join(",")})`;
    ctx.fillRect(width / 2, 0, width / 2, height);
    // A small grey mark moving along the bottom edge: each frame differs, so
    // the encoder keeps sending, and the region averages barely move.
    ctx.fillStyle = "rgb(128,128,128)";
    ctx.fillRect((tick * 8) % (width - 8), height - 8, 8, 8);
    tick += 1;
  };
  draw();
  const timer = setInterval(draw, 1000 / fps);
  const stream = canvas.captureStream(fps);
  return { stream, stop: () => clearInterval(timer) };
}

async function makeCameraStream(width, height) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { exact: width }, height: { exact: height } },
    audio: false,
  });
  return { stream, stop: () => stream.getTracks().forEach((t) => t.stop()) };
}

function regionMeans(data, w, h) {
  const regions = {
    left: [0, 0, Math.floor(w / 4), h],
    right: [Math.ceil((3 * w) / 4), Math.ceil(h / 2), w, h],
    corner: [w - Math.floor(w / 6), Math.ceil(h / 20), w - Math.ceil(w / 20), Math.floor(h / 6)],
    all: [0, 0, w, h],
  };
  const out = {};
  for (const [name, [x0, y0, x1, y1]] of Object.entries(regions)) {
    const sum = [0, 0, 0];
    let n = 0;
    for (let y = y0; y < y1; y += 1) {
      for (let x = x0; x < x1; x += 1) {
        const i = (y * w + x) * 4;
        sum[0] += data[i];
        sum[1] += data[i + 1];
        sum[2] += data[i + 2];
        n += 1;
      }
    }
    out[name] = sum.map((s) => Math.round((s / Math.max(1, n)) * 10) / 10);
  }
  return out;
}

/** A <video> for ``stream`` whose presented frames are counted and sampled into ``record``. */
function watchVideo(record, stream, label) {
  let video = record.video;
  if (!video) {
    video = document.createElement("video");
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.dataset.name = label;
    document.body.appendChild(video);
    record.video = video;
    const canvas = document.createElement("canvas");
    canvas.width = SAMPLE_W;
    canvas.height = SAMPLE_H;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    let lastSample = 0;
    const onFrame = (now, meta) => {
      if (record.closed) return;
      record.frames += 1;
      const size = [meta.width, meta.height];
      if (!record.sizes.some(([w, h]) => w === size[0] && h === size[1])) record.sizes.push(size);
      if (record.firstFrameAt === null) record.firstFrameAt = since(record.t0);
      if (record.frames <= 5 || now - lastSample >= 100) {
        lastSample = now;
        ctx.drawImage(video, 0, 0, SAMPLE_W, SAMPLE_H);
        const means = regionMeans(ctx.getImageData(0, 0, SAMPLE_W, SAMPLE_H).data, SAMPLE_W, SAMPLE_H);
        const sample = { frame: record.frames, t: since(record.t0), ...means };
        if (record.first.length < 5) record.first.push(sample);
        record.last = sample;
        record.samples += 1;
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  video.srcObject = stream;
  video.play().catch((error) => record.errors.push(`video.play: ${errorText(error)}`));
}

function newRecord(extra) {
  return {
    t0: performance.now(),
    frames: 0,
    samples: 0,
    sizes: [],
    first: [],
    last: null,
    firstFrameAt: null,
    errors: [],
    closed: false,
    video: null,
    ...extra,
  };
}

function sourceMeans(source) {
  // The local camera's own region means (for comparing an edit against it).
  if (!source.video) {
    source.video = document.createElement("video");
    source.video.muted = true;
    source.video.autoplay = true;
    source.video.playsInline = true;
    source.video.srcObject = source.stream;
    source.video.play().catch(() => {});
    document.body.appendChild(source.video);
    return null;
  }
  if (source.video.readyState < 2) return null;
  const canvas = document.createElement("canvas");
  canvas.width = SAMPLE_W;
  canvas.height = SAMPLE_H;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source.video, 0, 0, SAMPLE_W, SAMPLE_H);
  return regionMeans(ctx.getImageData(0, 0, SAMPLE_W, SAMPLE_H).data, SAMPLE_W, SAMPLE_H);
}

async function imageArg(image) {
  // {blob: name} -> the Blob made by makeImage; anything else as given (string, null).
  if (image && typeof image === "object" && "blob" in image) return blobs.get(image.blob);
  return image;
}

async function settle(promise) {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return errorText(error);
  }
}

function summary(record) {
  const { video, source, client: rt, handle, t0, ...rest } = record;
  return {
    ...rest,
    state: rt ? rt.getConnectionState() : null,
    sessionId: rt ? rt.sessionId : null,
    subscribeToken: rt ? rt.subscribeToken : null,
    videoWidth: video ? video.videoWidth : 0,
    videoHeight: video ? video.videoHeight : 0,
  };
}

// -- the API the test calls --------------------------------------------------------

const harness = {
  ready: true,

  /** WebSockets the page opened so far, by path (`/v1/stream` is the SDK's control channel). */
  sockets(path = "/v1/stream") {
    return sockets.filter((s) => s.path === path).length;
  },

  /** A solid-colour PNG (RGB ``color``) kept as ``name``; pass {blob: name} where an image goes. */
  async makeImage(name, width, height, color) {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = `rgb(${color.join(",")})`;
    ctx.fillRect(0, 0, width, height);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    blobs.set(name, blob);
    return blob.size;
  },

  /**
   * Connect session ``name``: opts {apiKey, server, model, source: "canvas" |
   * "camera", prompt, enhance, image, mirror}. Resolves (never rejects) with
   * {ok, error, seconds, ...summary}.
   */
  async connect(name, opts) {
    const model = modelDefinition(opts.model);
    const record = newRecord({
      name,
      model: model.name,
      states: [],
      queue: [],
      ticks: [],
      ended: [],
      events: [],
      ok: false,
      error: null,
      seconds: null,
      client: null,
      source: null,
    });
    sessions.set(name, record);
    const width = opts.width || model.width;
    const height = opts.height || model.height;
    try {
      record.source =
        opts.source === "camera" ? await makeCameraStream(width, height) : makeCanvasStream(width, height, 30);
    } catch (error) {
      record.error = `camera: ${errorText(error)}`;
      return summary(record);
    }
    const initialState = {};
    if (opts.prompt) initialState.prompt = { text: opts.prompt, enhance: opts.enhance ?? false };
    if (opts.image !== undefined) initialState.image = await imageArg(opts.image);
    const started = performance.now();
    try {
      const rt = await client(opts).realtime.connect(record.source.stream, {
        model,
        onRemoteStream: (stream) => watchVideo(record, stream, name),
        onConnectionChange: (state) => record.states.push(state),
        onQueuePosition: ({ position, queueSize }) => record.queue.push({ position, queueSize, t: since(record.t0) }),
        ...(Object.keys(initialState).length ? { initialState } : {}),
        ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}),
      });
      record.client = rt;
      record.ok = true;
      rt.on("generationTick", ({ seconds }) => record.ticks.push(seconds));
      rt.on("generationEnded", (e) => record.ended.push(e));
      rt.on("error", (error) => record.errors.push(errorText(error)));
      rt.on("connectionChange", (state) => record.events.push(state));
    } catch (error) {
      record.error = errorText(error);
      record.source.stop();
    }
    record.seconds = since(started);
    return summary(record);
  },

  /** What session (or viewer) ``name`` has seen so far. */
  stats(name) {
    const record = sessions.get(name) || viewers.get(name);
    if (!record) throw new Error(`no session or viewer named ${name}`);
    const out = summary(record);
    if (record.source && sessions.has(name)) out.camera = sourceMeans(record.source);
    return out;
  },

  async setPrompt(name, text, enhance = false) {
    return settle(sessions.get(name).client.setPrompt(text, { enhance }));
  },

  async set(name, { prompt, image, enhance = false }) {
    const input = { enhance };
    if (prompt !== undefined) input.prompt = prompt;
    if (image !== undefined) input.image = await imageArg(image);
    return settle(sessions.get(name).client.set(input));
  },

  async setImage(name, image, prompt) {
    const options = prompt === undefined ? {} : { prompt, enhance: false };
    return settle(sessions.get(name).client.setImage(await imageArg(image), options));
  },

  /** End session ``name`` (the SDK's disconnect); its state afterwards. */
  disconnect(name) {
    const record = sessions.get(name);
    if (record.client) record.client.disconnect();
    record.source?.stop();
    record.closed = true;
    return record.client ? record.client.getConnectionState() : null;
  },

  /** Watch a session receive-only with the SDK's own realtime.subscribe (POST /watch-stream, then the room). */
  async subscribe(name, opts) {
    const record = newRecord({ name, states: [], ok: false, error: null, seconds: null, handle: null });
    viewers.set(name, record);
    const started = performance.now();
    try {
      record.handle = await client(opts).realtime.subscribe({
        token: opts.token,
        onRemoteStream: (stream) => watchVideo(record, stream, name),
        onConnectionChange: (state) => record.states.push(state),
      });
      record.ok = true;
    } catch (error) {
      record.error = errorText(error);
    }
    record.seconds = since(started);
    return summary(record);
  },

  unsubscribe(name) {
    const record = viewers.get(name);
    record.handle?.disconnect();
    record.closed = true;
    return true;
  },

  /** client.tokens.create(options) with ``apiKey``: {ok, token | error}. */
  async createToken(opts, options) {
    try {
      return { ok: true, token: await client(opts).tokens.create(options) };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    }
  },

  /** client.files.upload(the Blob ``blobName``): {ok, file | error}. */
  async upload(opts, blobName) {
    try {
      return { ok: true, file: await client(opts).files.upload(blobs.get(blobName)) };
    } catch (error) {
      return { ok: false, error: errorText(error) };
    }
  },
};

window.harness = harness;
