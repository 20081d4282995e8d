//! Progress on stderr while work runs: indicatif bars on a terminal (one per image or blob in flight, and an
//! overall bar), or one line per finished image otherwise.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use registry_client::sync::{SyncEvent, SyncEventFn, SyncReport};
use registry_client::{Digest, ProgressEvent, ProgressFn};

use crate::output::{image_line, print_progress_line};
use crate::settings::Settings;

/// The overall bar once the plan is made.
const OVERALL: &str = "{prefix:>8} [{bar:30}] {pos}/{len} images  {elapsed}";

/// Bars redraw at most this often per second.
const REFRESH_HZ: u8 = 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn multi() -> MultiProgress {
    MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(REFRESH_HZ))
}

/// Where finished-image lines go when there are no bars.
#[derive(Debug, Clone, Copy)]
enum Lines {
    /// stdout (text output).
    Stdout,
    /// stderr (stdout is kept for the JSON document).
    Stderr,
}

/// The bars of a sync run.
#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    images: Mutex<HashMap<usize, ProgressBar>>,
}

/// Progress of a sync run, fed by [`SyncEvent`]s.
#[derive(Debug)]
pub(crate) struct SyncProgress {
    bars: Option<Bars>,
    lines: Lines,
    /// Plan indices whose line was printed.
    printed: Mutex<BTreeSet<usize>>,
}

impl SyncProgress {
    /// Bars when `settings` say so, else lines (stdout for text, stderr for JSON).
    pub(crate) fn new(settings: &Settings) -> Arc<SyncProgress> {
        let bars = settings.bars().then(|| {
            let multi = multi();
            let overall = multi.add(ProgressBar::new(0));
            // Until the plan is made there is no count to show: "planning", not `0/0 images`.
            overall.set_style(style("{prefix:>8} {spinner} {msg}  {elapsed}"));
            overall.set_message("planning");
            overall.set_prefix("sync");
            overall.enable_steady_tick(Duration::from_millis(200));
            Bars { multi, overall, images: Mutex::new(HashMap::new()) }
        });
        let lines = if settings.json() { Lines::Stderr } else { Lines::Stdout };
        Arc::new(SyncProgress { bars, lines, printed: Mutex::new(BTreeSet::new()) })
    }

    /// The callback for `RunOptions::events`.
    pub(crate) fn callback(self: &Arc<SyncProgress>) -> SyncEventFn {
        let me = self.clone();
        Arc::new(move |event: &SyncEvent| me.event(event))
    }

    fn line(&self, text: &str) {
        match (&self.bars, self.lines) {
            // indicatif draws nothing when stderr is no terminal (`--progress always` there): lines instead.
            (Some(bars), _) if !bars.multi.is_hidden() => {
                let _ = bars.multi.println(text);
            }
            (_, Lines::Stdout) => print_progress_line(&format!("{text}\n")),
            (_, Lines::Stderr) => eprintln!("{text}"),
        }
    }

    fn event(&self, event: &SyncEvent) {
        match event {
            SyncEvent::Started { images } => {
                if let Some(bars) = &self.bars {
                    bars.overall.set_length(*images as u64);
                    bars.overall.set_message("");
                    bars.overall.set_style(style(OVERALL));
                }
            }
            SyncEvent::ImageStarted { item, target, .. } => {
                if let Some(bars) = &self.bars {
                    let bar = bars.multi.insert_before(&bars.overall, ProgressBar::no_length());
                    bar.set_style(style("{spinner} {msg}  {bytes} ({bytes_per_sec})"));
                    bar.set_message(target.clone());
                    bar.enable_steady_tick(Duration::from_millis(200));
                    lock(&bars.images).insert(*item, bar);
                }
            }
            SyncEvent::Bytes { item, bytes } => {
                if let Some(bars) = &self.bars {
                    if let Some(bar) = lock(&bars.images).get(item) {
                        bar.inc(*bytes);
                    }
                }
            }
            SyncEvent::ImageFinished { item, report } => {
                if let Some(bars) = &self.bars {
                    // The overall bar counts the images that ran (not those the plan found already there).
                    if let Some(bar) = lock(&bars.images).remove(item) {
                        bar.finish_and_clear();
                        bars.multi.remove(&bar);
                        bars.overall.inc(1);
                        let done = bars.overall.position();
                        if bars.overall.length().is_some_and(|len| len < done) {
                            bars.overall.set_length(done);
                        }
                    }
                }
                if lock(&self.printed).insert(*item) {
                    self.line(&image_line(report));
                }
            }
            _ => {}
        }
    }

    /// The run is over: bars cleared, and a line for each image of `report` no event reported (images skipped at
    /// planning, or every image of a dry run).
    pub(crate) fn finish(&self, report: &SyncReport) {
        self.clear();
        let printed = lock(&self.printed).clone();
        for (i, image) in report.images.iter().enumerate() {
            if !printed.contains(&i) {
                match self.lines {
                    Lines::Stdout => print_progress_line(&format!("{}\n", image_line(image))),
                    Lines::Stderr => eprintln!("{}", image_line(image)),
                }
            }
        }
    }
}

impl SyncProgress {
    /// Clear the bars (the run is over, or failed as a whole).
    pub(crate) fn clear(&self) {
        if let Some(bars) = &self.bars {
            for (_, bar) in lock(&bars.images).drain() {
                bar.finish_and_clear();
            }
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

/// Bars for the blobs of one copy (`regcli cp`), fed by the target client's [`ProgressEvent`]s.
#[derive(Debug)]
pub(crate) struct CopyProgress {
    multi: MultiProgress,
    total: ProgressBar,
    blobs: Mutex<HashMap<Digest, ProgressBar>>,
}

impl CopyProgress {
    /// Bars when `settings` say so; `None` otherwise (a copy prints its one line at the end).
    pub(crate) fn new(settings: &Settings) -> Option<Arc<CopyProgress>> {
        if !settings.bars() {
            return None;
        }
        let multi = multi();
        let total = multi.add(ProgressBar::no_length());
        total.set_style(style("{spinner} uploaded {bytes} ({bytes_per_sec}), {msg}  {elapsed}"));
        total.set_message("0 blobs");
        total.enable_steady_tick(Duration::from_millis(200));
        Some(Arc::new(CopyProgress { multi, total, blobs: Mutex::new(HashMap::new()) }))
    }

    /// The callback for `TransferOptions::progress_fn`.
    pub(crate) fn callback(self: &Arc<CopyProgress>) -> ProgressFn {
        let me = self.clone();
        Arc::new(move |event: &ProgressEvent| me.event(event))
    }

    fn event(&self, event: &ProgressEvent) {
        match event {
            ProgressEvent::BlobStarted { digest, size } => {
                let bar = self.multi.insert_before(&self.total, ProgressBar::new(*size));
                bar.set_style(style("  {msg} [{bar:30}] {bytes}/{total_bytes}"));
                bar.set_message(short(digest));
                lock(&self.blobs).insert(digest.clone(), bar);
            }
            ProgressEvent::BlobProgress { digest, transferred, .. } => {
                if let Some(bar) = lock(&self.blobs).get(digest) {
                    let delta = transferred.saturating_sub(bar.position());
                    bar.set_position(*transferred);
                    self.total.inc(delta);
                }
            }
            ProgressEvent::BlobDone { digest, .. } => {
                if let Some(bar) = lock(&self.blobs).remove(digest) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.total.set_message(format!("last: {}", short(digest)));
            }
            _ => {}
        }
    }

    /// Clear the bars.
    pub(crate) fn finish(&self) {
        for (_, bar) in lock(&self.blobs).drain() {
            bar.finish_and_clear();
        }
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// `sha256:0123456789ab`.
fn short(digest: &Digest) -> String {
    let hex = digest.hex();
    format!("{}:{}", digest.algorithm().as_str(), hex.get(..12).unwrap_or(hex))
}
