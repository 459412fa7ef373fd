//! The one job queue: background work (decoding, dialogs, exports, gold labels,
//! comparisons) runs on a worker thread and hands its result to an `on_done` that gets
//! the app itself, once per frame on the UI thread. A finished worker asks for a
//! repaint, so the UI does not poll on timers; jobs marked to finish before exit are
//! waited for when the app closes.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::LimnerApp;

/// Wakes the UI from a worker thread: it holds the UI's context once a frame has run
/// (before that, there is no frame to wake: the first one polls anyway).
#[derive(Clone, Default)]
pub struct Waker(Arc<Mutex<Option<egui::Context>>>);

impl Waker {
    /// Remembers the UI's context (called every frame; cheap after the first).
    pub fn set(&self, ctx: &egui::Context) {
        if let Ok(mut c) = self.0.lock()
            && c.is_none()
        {
            *c = Some(ctx.clone());
        }
    }

    /// Asks for a frame, so a result just sent is picked up without polling.
    pub fn wake(&self) {
        if let Some(ctx) = self.0.lock().ok().and_then(|c| c.clone()) {
            ctx.request_repaint();
        }
    }
}

/// What a job does with its result on the UI thread.
type OnDone = Box<dyn FnOnce(&mut LimnerApp, &egui::Context) + Send>;

/// A finished job's hand-over.
struct Finished {
    id: u64,
    on_done: OnDone,
}

/// A job still running.
struct Running {
    id: u64,
    label: &'static str,
    finish_before_exit: bool,
    thread: std::thread::JoinHandle<()>,
}

/// Whether the app waits for a job when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtExit {
    /// Nothing is lost if the job dies with the process (a dialog, a decode).
    Abandon,
    /// The job writes something the user asked for: wait for it.
    Finish,
}

/// The job queue of the app.
pub struct Jobs {
    tx: Sender<Finished>,
    rx: Receiver<Finished>,
    running: Vec<Running>,
    next_id: u64,
    /// Finished workers wake the UI with it.
    waker: Waker,
}

impl Default for Jobs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Jobs {
            tx,
            rx,
            running: Vec::new(),
            next_id: 0,
            waker: Waker::default(),
        }
    }
}

impl Jobs {
    /// Runs `work` on a worker thread; its result goes to `on_done` on the UI thread.
    /// `label` names the job for [`Jobs::is_running`] and logs.
    pub fn spawn<T: Send + 'static>(
        &mut self,
        label: &'static str,
        at_exit: AtExit,
        work: impl FnOnce() -> T + Send + 'static,
        on_done: impl FnOnce(&mut LimnerApp, &egui::Context, T) + Send + 'static,
    ) {
        self.next_id += 1;
        let id = self.next_id;
        let tx = self.tx.clone();
        let waker = self.waker.clone();
        let thread = std::thread::spawn(move || {
            let result = work();
            let on_done: OnDone = Box::new(move |app, ctx| on_done(app, ctx, result));
            // The app may be gone (closed without waiting): nobody to tell.
            let _ = tx.send(Finished { id, on_done });
            waker.wake();
        });
        self.running.push(Running {
            id,
            label,
            finish_before_exit: at_exit == AtExit::Finish,
            thread,
        });
    }

    /// True while a job with this label runs (or has finished but not been handed over).
    pub fn is_running(&self, label: &str) -> bool {
        self.running.iter().any(|j| j.label == label)
    }

    /// Hands every finished job's result to the app. Called once per frame.
    pub fn run_finished(app: &mut LimnerApp, ctx: &egui::Context) {
        app.jobs.waker.set(ctx);
        let finished: Vec<Finished> = app.jobs.rx.try_iter().collect();
        for f in finished {
            app.jobs.running.retain(|j| j.id != f.id);
            (f.on_done)(app, ctx);
        }
        // A worker that panicked sends nothing: forget it, so it does not look busy
        // forever. (One that sent after the drain above is handed over next frame.)
        for job in app.jobs.running.extract_if(.., |j| j.thread.is_finished()) {
            if job.thread.join().is_err() {
                log::error!("the {} job failed", job.label);
            }
        }
    }

    /// Waits up to `timeout` for the jobs marked [`AtExit::Finish`]; returns the labels
    /// of those still running after it.
    pub fn finish_before_exit(&mut self, timeout: Duration) -> Vec<&'static str> {
        let start = Instant::now();
        let mut left = Vec::new();
        for job in self.running.drain(..).filter(|j| j.finish_before_exit) {
            while !job.thread.is_finished() && start.elapsed() < timeout {
                std::thread::sleep(Duration::from_millis(5));
            }
            if job.thread.is_finished() {
                let _ = job.thread.join();
            } else {
                left.push(job.label);
            }
        }
        left
    }
}

/// Job labels.
pub const DECODE: &str = "decode";
pub const FOLDER_DIALOG: &str = "folder dialog";
pub const EXPORT: &str = "export";
pub const GOLD: &str = "gold labels";
pub const COMPARE: &str = "gold comparison";
pub const PRELABEL: &str = "pre-label";
pub const SUSPECTS: &str = "label suspects";

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> (tempfile::TempDir, LimnerApp) {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::new(4, 4)
            .save(dir.path().join("a.png"))
            .unwrap();
        let project = crate::core::project::Project::open(dir.path()).unwrap();
        (dir, LimnerApp::new(project, None))
    }

    /// Runs frames until no job with `label` is left.
    fn settle(app: &mut LimnerApp, ctx: &egui::Context, label: &str) {
        let start = Instant::now();
        while app.jobs.is_running(label) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{label} never ended"
            );
            std::thread::sleep(Duration::from_millis(2));
            Jobs::run_finished(app, ctx);
        }
    }

    #[test]
    fn a_finished_job_hands_its_result_to_the_app() {
        let (_dir, mut app) = app();
        let ctx = egui::Context::default();
        app.jobs.spawn(
            "answer",
            AtExit::Abandon,
            || 41,
            |app, _, v| app.active_class = Some(v),
        );
        settle(&mut app, &ctx, "answer");
        assert_eq!(app.active_class, Some(41));
        // A worker that panics hands nothing over, and does not look busy forever.
        app.jobs.spawn(
            "broken",
            AtExit::Abandon,
            || panic!("a job that fails"),
            |app, _, ()| app.active_class = None,
        );
        settle(&mut app, &ctx, "broken");
        assert_eq!(app.active_class, Some(41));
    }

    #[test]
    fn a_finishing_worker_asks_for_a_frame() {
        let (_dir, mut app) = app();
        let ctx = egui::Context::default();
        settle(&mut app, &ctx, DECODE);
        let (go, wait) = channel::<()>();
        app.jobs.spawn(
            "wake",
            AtExit::Abandon,
            move || wait.recv().is_ok(),
            |_, _, _| {},
        );
        // egui asks for a few frames of its own at start: let them pass.
        for _ in 0..10 {
            let _ = ctx.run_ui(egui::RawInput::default(), |_| {});
            if !ctx.has_requested_repaint() {
                break;
            }
        }
        assert!(!ctx.has_requested_repaint(), "nothing finished yet");
        go.send(()).unwrap();
        let start = Instant::now();
        while !ctx.has_requested_repaint() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no repaint asked for"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn exit_waits_for_the_jobs_marked_to_finish_only() {
        let (_dir, mut app) = app();
        let (_hold_dialog, dialog) = channel::<()>();
        app.jobs.spawn(
            "dialog",
            AtExit::Abandon,
            move || dialog.recv().is_ok(),
            |_, _, _| {},
        );
        let (release, write) = channel::<()>();
        app.jobs.spawn(
            "write",
            AtExit::Finish,
            move || write.recv().is_ok(),
            |_, _, _| {},
        );
        let left = app.jobs.finish_before_exit(Duration::from_millis(50));
        assert_eq!(
            left,
            ["write"],
            "the write was still blocked; the dialog is not waited for"
        );
        drop(release);
        app.jobs.spawn(
            "slow write",
            AtExit::Finish,
            || std::thread::sleep(Duration::from_millis(50)),
            |_, _, ()| {},
        );
        let start = Instant::now();
        assert!(
            app.jobs
                .finish_before_exit(Duration::from_secs(10))
                .is_empty()
        );
        assert!(
            start.elapsed() >= Duration::from_millis(40),
            "it waited for the write"
        );
    }
}
