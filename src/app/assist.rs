//! Model assist in the app: prompts the user is placing, and the worker thread that
//! runs the predictor so inference never blocks a frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use crate::core::geometry::BitMask;
use crate::model::{self, Click, MaskPredictor, ModelKind, Prediction, Prompts, Stroke};

/// Work for the predictor thread.
enum Request {
    /// Predict a mask; `seq` lets stale answers be dropped (latest request wins).
    Predict {
        seq: u64,
        image: Arc<image::RgbImage>,
        prompts: Prompts,
    },
    /// Sets a backend option ([`MaskPredictor::set_option`]) for the predictions after it.
    SetOption(&'static str, f64),
    /// Per-image work ahead of the first prompt (a SAM encoder pass) for a decoded image.
    Prepare(Arc<image::RgbImage>),
    /// The same for an image file not decoded yet (the next image in the list).
    PrepareFile(PathBuf),
}

/// What the worker sends back.
pub enum Reply {
    Ready,
    Unavailable(String),
    Prediction {
        seq: u64,
        result: Result<Prediction, String>,
        ms: f64,
    },
}

/// State of the model behind the prompt tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading,
    Ready,
    Unavailable(String),
}

/// Builds a predictor on the worker thread.
pub type PredictorLoader = Box<dyn FnOnce() -> Result<Box<dyn MaskPredictor>, String> + Send>;

/// The predictor thread. The model loads in the background at start-up.
pub struct AssistWorker {
    tx: Sender<Request>,
    rx: Receiver<Reply>,
    pub state: ModelState,
    /// The model config this worker runs (`None`: no model, or one given by a test).
    pub config: Option<PathBuf>,
    /// The kind of that config (the toolbar shows backend settings by kind).
    pub kind: Option<ModelKind>,
    /// The `threshold` backend's level slider: 0 = Otsu, else the manual level.
    pub threshold_level: u8,
    next_seq: u64,
    pending: Option<u64>,
    /// Last inference time, for the status bar.
    pub last_ms: Option<f64>,
    /// The worker thread (None for a worker without a model).
    thread: Option<std::thread::JoinHandle<()>>,
    /// The worker wakes the UI with it when it replies, so the UI need not poll.
    pub waker: super::jobs::Waker,
}

impl AssistWorker {
    /// Starts the worker and loads the model of `config` in the background; `None`
    /// means no model (prompt tools disabled).
    pub fn start(config: Option<PathBuf>) -> Self {
        let Some(path) = config else {
            let (tx, _) = channel::<Request>();
            let (reply_tx, rx) = channel::<Reply>();
            let _ = reply_tx.send(Reply::Unavailable(
                "no model config found (models/limner-click-v2.json)".into(),
            ));
            return Self::with_channels(tx, rx, None);
        };
        let load_path = path.clone();
        let mut w = Self::start_with(Box::new(move || {
            model::load_predictor(&load_path).map_err(|e| e.to_string())
        }));
        w.kind = model::ModelConfig::load(&path).ok().map(|c| c.kind);
        w.config = Some(path);
        w
    }

    /// Starts the worker with a predictor built by `load` on the worker thread.
    pub fn start_with(load: PredictorLoader) -> Self {
        let (tx, req_rx) = channel::<Request>();
        let (reply_tx, rx) = channel::<Reply>();
        let waker = super::jobs::Waker::default();
        let wake = waker.clone();
        let thread = std::thread::spawn(move || {
            let mut predictor = match load() {
                Ok(p) => {
                    let _ = reply_tx.send(Reply::Ready);
                    wake.wake();
                    p
                }
                Err(e) => {
                    let _ = reply_tx.send(Reply::Unavailable(e));
                    wake.wake();
                    return;
                }
            };
            while let Ok(first) = req_rx.recv() {
                // Only the newest prediction matters; preparations run after it.
                let mut predict = None;
                let mut prepare = Vec::new();
                for req in std::iter::once(first).chain(req_rx.try_iter()) {
                    match req {
                        Request::Predict { .. } => predict = Some(req),
                        // Applied in order: every prediction asked after it sees it.
                        Request::SetOption(name, value) => {
                            if !predictor.set_option(name, value) {
                                log::warn!("the model has no option `{name}`");
                            }
                        }
                        other => prepare.push(other),
                    }
                }
                if let Some(Request::Predict {
                    seq,
                    image,
                    prompts,
                }) = predict
                {
                    let t = Instant::now();
                    let result = predictor
                        .predict(&image, &prompts)
                        .map_err(|e| e.to_string());
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if reply_tx
                        .send(Reply::Prediction { seq, result, ms })
                        .is_err()
                    {
                        return;
                    }
                    wake.wake();
                }
                // Decoding the next image costs time; only models that use it get it.
                let prepare = if predictor.has_per_image_work() {
                    prepare
                } else {
                    Vec::new()
                };
                for req in prepare {
                    let image = match req {
                        Request::Prepare(image) => image,
                        Request::PrepareFile(path) => {
                            match crate::core::io::read_rgb_image(&path) {
                                Ok(i) => Arc::new(i),
                                Err(e) => {
                                    log::warn!("pre-encoding: {e}");
                                    continue;
                                }
                            }
                        }
                        Request::Predict { .. } | Request::SetOption(..) => continue,
                    };
                    if let Err(e) = predictor.prepare(&image) {
                        log::warn!("pre-encoding an image: {e}");
                    }
                }
            }
        });
        let mut w = Self::with_channels(tx, rx, None);
        w.thread = Some(thread);
        w.waker = waker;
        w
    }

    /// Stops taking requests and waits up to `timeout` for the worker to finish what
    /// it is doing (loading the model, one inference). Called at exit: a process that
    /// exits while ONNX Runtime is still initialising on another thread can crash in
    /// its static destructors. Returns false when the worker was still busy.
    pub fn shutdown(&mut self, timeout: std::time::Duration) -> bool {
        // Dropping the only sender ends the worker's request loop after its current job.
        self.tx = channel::<Request>().0;
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let start = Instant::now();
        while !thread.is_finished() {
            if start.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = thread.join();
        true
    }

    /// Asks the model to do its per-image work for `image` now (no-op for models
    /// without any), so the first click on it is fast.
    pub fn prepare(&self, image: Arc<image::RgbImage>) {
        let _ = self.tx.send(Request::Prepare(image));
    }

    /// Like [`AssistWorker::prepare`] for an image file (decoded on the worker).
    pub fn prepare_file(&self, path: PathBuf) {
        let _ = self.tx.send(Request::PrepareFile(path));
    }

    fn with_channels(tx: Sender<Request>, rx: Receiver<Reply>, config: Option<PathBuf>) -> Self {
        AssistWorker {
            tx,
            rx,
            state: ModelState::Loading,
            config,
            kind: None,
            threshold_level: 0,
            next_seq: 0,
            pending: None,
            last_ms: None,
            thread: None,
            waker: Default::default(),
        }
    }

    /// Sets the threshold backend's level (0 = Otsu) for the predictions asked after
    /// this call.
    pub fn set_threshold_level(&mut self, level: u8) {
        self.threshold_level = level;
        let _ = self.tx.send(Request::SetOption("level", f64::from(level)));
    }

    /// Asks for a prediction; returns its sequence number.
    pub fn request(&mut self, image: Arc<image::RgbImage>, prompts: Prompts) -> u64 {
        self.next_seq += 1;
        let seq = self.next_seq;
        let _ = self.tx.send(Request::Predict {
            seq,
            image,
            prompts,
        });
        self.pending = Some(seq);
        seq
    }

    /// True while a prediction is running.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// The newest finished prediction, if any (older ones are dropped).
    pub fn poll(&mut self) -> Option<Result<Prediction, String>> {
        let mut out = None;
        while let Ok(r) = self.rx.try_recv() {
            match r {
                Reply::Ready => self.state = ModelState::Ready,
                Reply::Unavailable(m) => self.state = ModelState::Unavailable(m),
                Reply::Prediction { seq, result, ms } => {
                    if Some(seq) == self.pending {
                        self.pending = None;
                        self.last_ms = Some(ms);
                        out = Some(result);
                    }
                }
            }
        }
        out
    }
}

/// Prompts being placed for one object, and the model's current answer.
#[derive(Default)]
pub struct PromptDraft {
    pub prompts: Prompts,
    pub preview: Option<BitMask>,
    /// Stroke being dragged, in image coordinates.
    pub stroke: Option<Stroke>,
    /// Box corner where a box drag started.
    pub box_start: Option<[f32; 2]>,
    /// Bumped with every new preview so views refresh their caches.
    pub revision: u64,
    /// The segment being refined (its mask was the starting previous mask).
    pub refining: Option<u32>,
}

impl PromptDraft {
    /// True when nothing is placed.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty() && self.preview.is_none()
    }

    /// Adds a click.
    pub fn click(&mut self, x: f32, y: f32, positive: bool) {
        self.prompts.clicks.push(Click { x, y, positive });
    }

    /// Removes the last click or stroke (whichever came last is not tracked; clicks first).
    pub fn undo_last(&mut self) {
        if self.prompts.clicks.pop().is_none() && self.prompts.strokes.pop().is_none() {
            self.prompts.bbox = None;
        }
    }

    /// Takes a prediction: it becomes the preview and the previous mask of the next call.
    pub fn accept_prediction(&mut self, p: Prediction) {
        // Unique across drafts: a fresh draft's first preview must not hit the view's
        // cache entry of an earlier draft's first preview.
        static NEXT_REVISION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        self.preview = Some(p.mask);
        self.prompts.previous = Some(p.probability);
        self.revision = NEXT_REVISION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction() -> Prediction {
        Prediction {
            width: 2,
            height: 1,
            probability: vec![1.0, 0.0],
            mask: BitMask {
                width: 2,
                height: 1,
                data: vec![1, 0],
            },
        }
    }

    #[test]
    fn previews_of_different_drafts_never_share_a_revision() {
        // The canvas caches the preview texture by revision; a new draft (after Enter,
        // Esc or a model switch) must not show the previous draft's texture.
        let mut a = PromptDraft::default();
        a.accept_prediction(prediction());
        let mut b = PromptDraft::default();
        b.accept_prediction(prediction());
        assert_ne!(a.revision, b.revision);
        let before = b.revision;
        b.accept_prediction(prediction());
        assert_ne!(b.revision, before);
    }

    #[test]
    fn shutdown_waits_for_a_model_still_loading() {
        let (tx, rx) = channel::<()>();
        let mut w = AssistWorker::start_with(Box::new(move || {
            let _ = rx.recv(); // loads until the test lets it finish
            Err("no model in this test".into())
        }));
        assert!(
            !w.shutdown(std::time::Duration::from_millis(50)),
            "still loading: shutdown must report it waited in vain"
        );
        let mut w2 = AssistWorker::start_with(Box::new(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            Err("slow load".into())
        }));
        assert!(w2.shutdown(std::time::Duration::from_secs(10)));
        drop(tx);
        let _ = w.poll();
    }
}
