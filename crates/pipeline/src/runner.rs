//! The cleaning run: documents through the plan's stages into the output.
//!
//! The runner, not the stages, counts documents and bytes, times stages,
//! catches panics, turns stage errors into drops (or aborts), writes
//! rejects and merges stats.

use crate::config::Config;
use crate::engine::{self, Indexed, OrderedFn, ParallelFn, Phase};
use crate::plan::{Plan, Runtime};
use crate::sources::SourceMatcher;
use serde_json::{json, Map, Value};
use sluicebox_core::stats::{RecordError, MAX_KEPT_ERRORS};
use sluicebox_core::{
    Cx, Decide, Document, OrderedStage, ParallelStage, Prepare, Prepared, StageError, Stats,
    Verdict,
};
use sluicebox_io::{
    document_json, reader::read_input_opened, InputFile, IoError, OutputCompression, OutputFormat,
    OutputWriter, RawKind, RawRecord, RecordOptions,
};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the caller decides beyond the config.
pub struct RunOptions {
    pub inputs: Vec<InputFile>,
    /// Inputs that could not even be listed (reported as errors).
    pub input_errors: Vec<IoError>,
    /// `None` discards the output (benchmarks); counting is unchanged.
    pub out_dir: Option<PathBuf>,
    pub threads: usize,
    pub batch_size: usize,
    pub in_flight: usize,
    /// Called after each batch is written with (records, input bytes) so far.
    pub progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    /// The command line, recorded in stats.json.
    pub command: String,
    /// Print record errors to stderr as they happen.
    pub print_errors: bool,
    /// Keep the run resumable (see [`crate::resume`]); continue an
    /// interrupted one found in the output directory.
    pub resume: bool,
}

impl RunOptions {
    /// Options with the config's `[run]` settings and the given inputs.
    pub fn from_config(config: &Config, inputs: Vec<InputFile>) -> RunOptions {
        RunOptions {
            inputs,
            input_errors: Vec::new(),
            out_dir: Some(PathBuf::from(&config.output.dir)),
            threads: config.run.threads,
            batch_size: config.run.batch_size,
            in_flight: config.run.in_flight,
            progress: None,
            command: String::new(),
            print_errors: true,
            resume: false,
        }
    }

    pub fn effective_threads(&self) -> usize {
        effective_threads(self.threads)
    }
}

/// A thread count as asked (`0`: one per core).
pub fn effective_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunSummary {
    pub stats: Stats,
    /// Per stage id: seconds spent inside the stage, summed over threads.
    pub busy_seconds: Vec<(String, f64)>,
    pub wall_seconds: f64,
    pub threads: usize,
    /// Set when the run stopped early (exit code 2); outputs were not committed.
    pub fatal: Option<String>,
    /// Files written (docs, rejects, stats).
    pub outputs: Vec<PathBuf>,
}

impl RunSummary {
    /// 0 done, 1 done with document errors, 2 fatal.
    pub fn exit_code(&self) -> i32 {
        if self.fatal.is_some() {
            2
        } else if self.stats.totals.errors > 0 {
            1
        } else {
            0
        }
    }
}

pub(crate) enum Slot {
    Raw(u64, RawRecord),
    Live(Document, Option<Prepared>),
    Rejected {
        doc: Document,
        stage: usize,
        reason: String,
        detail: String,
    },
    Error(RecordError),
    /// A kept document serialised by a worker (the writer only copies bytes).
    Encoded {
        json: Vec<u8>,
        source: String,
        text_len: u64,
    },
    /// A rejected document serialised by a worker.
    EncodedReject {
        json: Vec<u8>,
        source: String,
        stage_reason: String,
    },
}

impl Slot {
    /// Serialise kept and rejected documents to their output records.
    fn encode(self, shared: &Shared) -> Slot {
        match self {
            Slot::Live(doc, _) => {
                let mut json = Vec::with_capacity(doc.text.len() + 256);
                document_json(&doc, &[], true, &mut json);
                Slot::Encoded {
                    json,
                    text_len: doc.text.len() as u64,
                    source: doc.source,
                }
            }
            Slot::Rejected {
                doc,
                stage,
                reason,
                detail,
            } => {
                let stage_id = shared.stage_ids.get(stage).cloned().unwrap_or_default();
                let mut json = Vec::with_capacity(doc.text.len() + 256);
                let extra = [
                    ("stage", stage_id.as_str()),
                    ("reason", reason.as_str()),
                    ("detail", detail.as_str()),
                ];
                document_json(&doc, &extra, shared.rejects_text, &mut json);
                Slot::EncodedReject {
                    json,
                    source: doc.source,
                    stage_reason: format!("{stage_id}/{reason}"),
                }
            }
            other => other,
        }
    }
}

pub(crate) struct Batch {
    pub index: u64,
    pub slots: Vec<Slot>,
    pub stats: Stats,
    pub busy_ns: Vec<u64>,
    pub input_bytes: u64,
    /// Profile pass only: per learning stage, this batch's partial.
    pub partials: Partials,
    /// Resumable runs: this batch ends an input file, and this many input
    /// files are done with it.
    pub file_done: Option<u64>,
}

impl Indexed for Batch {
    fn index(&self) -> u64 {
        self.index
    }
}

thread_local! {
    static IN_STAGE: Cell<bool> = const { Cell::new(false) };
}

/// Keep the default panic message out of stderr for panics inside stages:
/// the runner reports them itself as a located drop with reason `panic`.
pub fn install_quiet_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_STAGE.with(|f| f.get()) {
            previous(info);
        }
    }));
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Call a stage, turning a panic into an error string.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, StageError>) -> Result<T, (bool, String)> {
    IN_STAGE.with(|c| c.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_STAGE.with(|c| c.set(false));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err((false, e.to_string())),
        Err(p) => Err((true, panic_message(p))),
    }
}

/// State shared by the workers.
pub(crate) struct Shared {
    pub stage_ids: Vec<String>,
    pub record_opts: RecordOptions,
    pub matcher: SourceMatcher,
    pub decodes: Vec<bool>,
    pub abort_on_error: bool,
    /// Keep the text of rejected documents in rejects.jsonl.
    pub rejects_text: bool,
    pub cancel: AtomicBool,
    pub fatal: Mutex<Option<String>>,
}

impl Shared {
    pub fn new(config: &Config, stage_ids: Vec<String>, decodes: Vec<bool>) -> Shared {
        Shared {
            stage_ids,
            record_opts: RecordOptions {
                text_field: config.input.text_field.clone(),
                id_field: config.input.id_field.clone(),
                charset_field: config.input.charset_field.clone(),
            },
            matcher: SourceMatcher::new(config),
            decodes,
            abort_on_error: config.run.on_error == "abort",
            rejects_text: config.output.rejects_text,
            cancel: AtomicBool::new(false),
            fatal: Mutex::new(None),
        }
    }

    pub fn fail(&self, msg: String) {
        if let Ok(mut f) = self.fatal.lock() {
            if f.is_none() {
                *f = Some(msg);
            }
        }
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Raw record to live document or located error, with accounting.
    pub fn parse(&self, seq: u64, raw: RawRecord, stats: &mut Stats) -> Slot {
        stats.totals.records += 1;
        let location = if raw.line == 0 {
            raw.file.to_string()
        } else {
            format!("{}:{}", raw.file, raw.line)
        };
        let path = raw.file.clone();
        match sluicebox_io::parse_record(raw, &self.record_opts) {
            Ok(mut doc) => {
                doc.seq = seq;
                self.matcher.assign(&mut doc, &path);
                if !self.decodes.get(doc.source_index).copied().unwrap_or(false) {
                    if let Some(raw) = doc.raw.take() {
                        doc.text = String::from_utf8_lossy(&raw).into_owned();
                    }
                }
                stats.totals.read += 1;
                stats.totals.bytes_in += doc.byte_len() as u64;
                stats.length_histogram.add_input(doc.byte_len() as u64);
                let s = stats.sources.entry(doc.source.clone()).or_default();
                s.read += 1;
                s.bytes_in += doc.byte_len() as u64;
                Slot::Live(doc, None)
            }
            Err(message) => {
                stats.totals.errors += 1;
                Slot::Error(RecordError { location, message })
            }
        }
    }
}

/// Result of one stage on one document, already counted.
enum Step {
    Keep(Document),
    Parts(Vec<Document>),
    Reject(Document, String, String),
}

/// Apply a verdict to the stats of stage `pos`.
fn account(
    stats: &mut Stats,
    id: &str,
    bytes_in: usize,
    doc: Document,
    verdict: Result<Verdict, (bool, String)>,
    cx: Cx,
    shared: &Shared,
) -> Step {
    let st = stats.stage_mut(id);
    st.docs_in += 1;
    st.bytes_in += bytes_in as u64;
    for (k, v) in cx.counters {
        *st.counters.entry(k.to_string()).or_insert(0) += v;
    }
    let drop = |st: &mut sluicebox_core::StageStats, reason: &str| {
        *st.dropped.entry(reason.to_string()).or_insert(0) += 1;
    };
    match verdict {
        Ok(Verdict::Unchanged) => {
            st.unchanged += 1;
            st.bytes_out += doc.byte_len() as u64;
            Step::Keep(doc)
        }
        Ok(Verdict::Changed) => {
            st.changed += 1;
            st.bytes_out += doc.byte_len() as u64;
            Step::Keep(doc)
        }
        Ok(Verdict::Drop { reason, detail }) => {
            drop(st, reason);
            Step::Reject(doc, reason.to_string(), detail)
        }
        Ok(Verdict::Split(parts)) if parts.is_empty() => {
            drop(st, "error");
            Step::Reject(
                doc,
                "error".into(),
                "stage split the document into nothing".into(),
            )
        }
        Ok(Verdict::Split(parts)) => {
            st.split += 1;
            st.parts_out += parts.len() as u64;
            st.bytes_out += parts.iter().map(|p| p.byte_len() as u64).sum::<u64>();
            stats.totals.parts_added += parts.len() as u64 - 1;
            Step::Parts(parts)
        }
        Err((panicked, msg)) => {
            let reason = if panicked { "panic" } else { "error" };
            drop(st, reason);
            if !panicked && shared.abort_on_error {
                shared.fail(format!(
                    "{}: stage `{id}` failed on document `{}`: {msg} (on_error = \"abort\")",
                    doc.origin, doc.id
                ));
            }
            Step::Reject(doc, reason.to_string(), msg)
        }
    }
}

/// Per source index, the instance of a stage (`None`: disabled there).
pub(crate) type BySource<T> = Vec<Option<Arc<T>>>;

/// Partial profiles of one batch, one per learning stage.
pub(crate) type Partials = Vec<Option<Box<dyn sluicebox_core::ProfileBuilder>>>;

/// The parallel part of one phase.
pub(crate) struct ParallelPart {
    /// (stage position, instances by source) for each parallel stage.
    pub stages: Vec<(usize, BySource<dyn ParallelStage>)>,
    /// The split stage's prepare half ending this phase, if any.
    pub prepare: Option<(usize, BySource<dyn Prepare>)>,
    /// Whether this is the first phase (raw records get parsed here).
    pub first: bool,
    /// Whether this is the last phase (documents get serialised here, so
    /// the writer thread only copies bytes).
    pub last: bool,
}

impl ParallelPart {
    fn chain(
        &self,
        shared: &Shared,
        batch_stats: &mut Stats,
        busy: &mut [u64],
        doc: Document,
        from: usize,
        out: &mut Vec<Slot>,
    ) {
        let mut doc = doc;
        for j in from..self.stages.len() {
            let (pos, by_source) = &self.stages[j];
            let Some(Some(stage)) = by_source.get(doc.source_index) else {
                continue;
            };
            let id = &shared.stage_ids[*pos];
            let bytes_in = doc.byte_len();
            let mut cx = Cx::default();
            let t = Instant::now();
            let v = guarded(|| stage.process(&mut doc, &mut cx));
            busy[*pos] += t.elapsed().as_nanos() as u64;
            match account(batch_stats, id, bytes_in, doc, v, cx, shared) {
                Step::Keep(d) => doc = d,
                Step::Reject(d, reason, detail) => {
                    out.push(Slot::Rejected {
                        doc: d,
                        stage: *pos,
                        reason,
                        detail,
                    });
                    return;
                }
                Step::Parts(parts) => {
                    for p in parts {
                        self.chain(shared, batch_stats, busy, p, j + 1, out);
                    }
                    return;
                }
            }
        }
        // The split stage's parallel half.
        if let Some((pos, by_source)) = &self.prepare {
            if let Some(Some(prep)) = by_source.get(doc.source_index) {
                let t = Instant::now();
                let r = guarded(|| prep.prepare(&doc));
                busy[*pos] += t.elapsed().as_nanos() as u64;
                match r {
                    Ok(p) => out.push(Slot::Live(doc, Some(p))),
                    Err(e) => {
                        let id = &shared.stage_ids[*pos];
                        let bytes_in = doc.byte_len();
                        match account(
                            batch_stats,
                            id,
                            bytes_in,
                            doc,
                            Err(e),
                            Cx::default(),
                            shared,
                        ) {
                            Step::Reject(d, reason, detail) => out.push(Slot::Rejected {
                                doc: d,
                                stage: *pos,
                                reason,
                                detail,
                            }),
                            Step::Keep(d) => out.push(Slot::Live(d, None)),
                            Step::Parts(_) => {}
                        }
                    }
                }
                return;
            }
        }
        out.push(Slot::Live(doc, None));
    }

    pub fn process(&self, shared: &Shared, batch: &mut Batch) {
        let slots = std::mem::take(&mut batch.slots);
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let slot = match slot {
                Slot::Raw(seq, raw) if self.first => shared.parse(seq, raw, &mut batch.stats),
                other => other,
            };
            match slot {
                Slot::Live(doc, _) => self.chain(
                    shared,
                    &mut batch.stats,
                    &mut batch.busy_ns,
                    doc,
                    0,
                    &mut out,
                ),
                other => out.push(other),
            }
        }
        if self.last {
            out = out.into_iter().map(|s| s.encode(shared)).collect();
        }
        batch.slots = out;
    }
}

/// An ordered step: an ordered stage or a split stage's decide half.
pub(crate) enum OrderedInstance {
    Ordered(Box<dyn OrderedStage>),
    Decide(Box<dyn Decide>),
}

pub(crate) struct OrderedPart {
    pub pos: usize,
    pub instances: Vec<OrderedInstance>,
    pub by_source: Vec<Option<usize>>,
    /// Resumable runs: where checkpoints go at the end of each input file.
    pub checkpoints: Option<PathBuf>,
}

impl OrderedPart {
    pub(crate) fn process(&mut self, shared: &Shared, batch: &mut Batch) {
        let id = shared.stage_ids[self.pos].clone();
        let slots = std::mem::take(&mut batch.slots);
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let Slot::Live(mut doc, prepared) = slot else {
                out.push(slot);
                continue;
            };
            let Some(Some(k)) = self.by_source.get(doc.source_index) else {
                out.push(Slot::Live(doc, None));
                continue;
            };
            let Some(inst) = self.instances.get_mut(*k) else {
                out.push(Slot::Live(doc, None));
                continue;
            };
            let bytes_in = doc.byte_len();
            let mut cx = Cx::default();
            let t = Instant::now();
            let v = match inst {
                OrderedInstance::Ordered(o) => guarded(|| o.process(&mut doc, &mut cx)),
                OrderedInstance::Decide(d) => match prepared {
                    Some(p) => guarded(|| d.decide(&mut doc, p, &mut cx)),
                    None => Err((false, "internal: missing prepared data".to_string())),
                },
            };
            batch.busy_ns[self.pos] += t.elapsed().as_nanos() as u64;
            let v = match v {
                Ok(Verdict::Split(_)) => Err((
                    false,
                    "an ordered stage may not split documents".to_string(),
                )),
                other => other,
            };
            match account(&mut batch.stats, &id, bytes_in, doc, v, cx, shared) {
                Step::Keep(d) => out.push(Slot::Live(d, None)),
                Step::Reject(d, reason, detail) => out.push(Slot::Rejected {
                    doc: d,
                    stage: self.pos,
                    reason,
                    detail,
                }),
                Step::Parts(_) => {}
            }
        }
        batch.slots = out;
        if let (Some(dir), Some(files)) = (&self.checkpoints, batch.file_done) {
            for (k, inst) in self.instances.iter_mut().enumerate() {
                let base = crate::resume::checkpoint_base(dir, &id, k);
                let r = match inst {
                    OrderedInstance::Ordered(o) => guarded(|| o.checkpoint(&base, files)),
                    OrderedInstance::Decide(d) => guarded(|| d.checkpoint(&base, files)),
                };
                if let Err((_, msg)) = r {
                    shared.fail(format!(
                        "stage `{id}`: cannot checkpoint for --resume: {msg}"
                    ));
                }
            }
        }
    }

    /// Resumable runs: continue from the checkpoint taken after `files` files.
    fn restore(
        &mut self,
        shared: &Shared,
        dir: &std::path::Path,
        files: u64,
    ) -> Result<(), String> {
        let id = &shared.stage_ids[self.pos];
        for (k, inst) in self.instances.iter_mut().enumerate() {
            let base = crate::resume::checkpoint_base(dir, id, k);
            let r = match inst {
                OrderedInstance::Ordered(o) => guarded(|| o.restore(&base, files)),
                OrderedInstance::Decide(d) => guarded(|| d.restore(&base, files)),
            };
            r.map_err(|(_, msg)| format!("stage `{id}`: cannot resume: {msg}"))?;
        }
        Ok(())
    }

    fn finish(&mut self, shared: &Shared) {
        let id = &shared.stage_ids[self.pos];
        for inst in &mut self.instances {
            let r = match inst {
                OrderedInstance::Ordered(o) => guarded(|| o.finish()),
                OrderedInstance::Decide(d) => guarded(|| d.finish()),
            };
            if let Err((_, msg)) = r {
                shared.fail(format!("stage `{id}`: could not finish: {msg}"));
            }
        }
    }
}

/// Split the plan into phases: runs of parallel stages, each closed by at
/// most one ordered or split stage.
pub(crate) fn phases_of(plan: Plan) -> (Vec<ParallelPart>, Vec<Option<OrderedPart>>) {
    let mut pars = vec![ParallelPart {
        stages: Vec::new(),
        prepare: None,
        first: true,
        last: false,
    }];
    let mut ords: Vec<Option<OrderedPart>> = vec![None];
    for (pos, stage) in plan.stages.into_iter().enumerate() {
        let by_source = stage.by_source;
        let mut par_instances: Vec<Arc<dyn ParallelStage>> = Vec::new();
        let mut prep_instances: Vec<Arc<dyn Prepare>> = Vec::new();
        let mut ord_instances: Vec<OrderedInstance> = Vec::new();
        for inst in stage.instances {
            match inst {
                Runtime::Parallel(p) => par_instances.push(p),
                Runtime::Ordered(o) => ord_instances.push(OrderedInstance::Ordered(o)),
                Runtime::Split(p, d) => {
                    prep_instances.push(p);
                    ord_instances.push(OrderedInstance::Decide(d));
                }
            }
        }
        let last = pars.len() - 1;
        if !par_instances.is_empty() {
            let map = by_source
                .iter()
                .map(|k| k.and_then(|k| par_instances.get(k).cloned()))
                .collect();
            pars[last].stages.push((pos, map));
        } else if !ord_instances.is_empty() {
            if !prep_instances.is_empty() {
                let map = by_source
                    .iter()
                    .map(|k| k.and_then(|k| prep_instances.get(k).cloned()))
                    .collect();
                pars[last].prepare = Some((pos, map));
            }
            ords[last] = Some(OrderedPart {
                pos,
                instances: ord_instances,
                by_source,
                checkpoints: None,
            });
            pars.push(ParallelPart {
                stages: Vec::new(),
                prepare: None,
                first: false,
                last: false,
            });
            ords.push(None);
        }
    }
    // phases_of always ends with a part that has no ordered step after it.
    if let Some(p) = pars.last_mut() {
        p.last = true;
    }
    (pars, ords)
}

/// Where reading starts, and whether batches end at file ends.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReadFrom {
    /// Input files already done (resumed runs skip them).
    pub skip_files: u64,
    /// Sequence number of the first record read.
    pub seq: u64,
    /// End a batch at the end of every input file and mark it (resumable
    /// runs checkpoint there).
    pub mark_files: bool,
}

/// Input files opened ahead of the one being read (see `read_batches`).
const READ_AHEAD_FILES: usize = 2;

/// A file opened ahead of its turn, or why it could not be.
type Opened = Result<Box<dyn std::io::BufRead + Send>, IoError>;

/// Read every input into batches of raw records, calling `send` for each.
pub(crate) fn read_batches(
    inputs: &[InputFile],
    input_errors: &[IoError],
    batch_size: usize,
    max_doc_bytes: usize,
    n_stages: usize,
    from: ReadFrom,
    send: &mut dyn FnMut(Batch) -> bool,
) {
    // Bytes per batch: with `in_flight` batches this bounds memory, so a
    // small cap keeps peak RSS flat whatever the documents' sizes.
    const BATCH_BYTES: u64 = 1 << 20;
    let new_batch = |index: u64| Batch {
        index,
        slots: Vec::with_capacity(batch_size.min(4096)),
        stats: Stats::default(),
        busy_ns: vec![0; n_stages],
        input_bytes: 0,
        partials: Vec::new(),
        file_done: None,
    };
    let mut index = 0u64;
    let mut seq = from.seq;
    let mut batch = new_batch(0);
    let mut stopped = false;
    // Adds a record (if any) and sends the batch when it is full or, with
    // `file_done`, when it ends an input file.
    let mut push = |raw: Option<RawRecord>,
                    file_done: Option<u64>,
                    batch: &mut Batch,
                    stopped: &mut bool|
     -> bool {
        if let Some(raw) = raw {
            batch.input_bytes += raw.byte_len() as u64;
            batch.slots.push(Slot::Raw(seq, raw));
            seq += 1;
        }
        if file_done.is_some()
            || batch.slots.len() >= batch_size
            || batch.input_bytes >= BATCH_BYTES
        {
            index += 1;
            let mut full = std::mem::replace(batch, new_batch(index));
            full.file_done = file_done;
            if !send(full) {
                *stopped = true;
                return false;
            }
        }
        true
    };
    // Listing errors belong to the first file's part (already done when resuming).
    let listing_errors = if from.skip_files == 0 {
        input_errors
    } else {
        &[]
    };
    for e in listing_errors {
        let IoError::Path { path, message } = e;
        let raw = RawRecord {
            file: Arc::from(path.as_str()),
            line: 0,
            kind: RawKind::Error(format!("cannot read: {message}")),
        };
        if !push(Some(raw), None, &mut batch, &mut stopped) {
            return;
        }
    }
    // The next few files are opened before their turn, so that their
    // decoders (one thread each) inflate while this one is read.
    let first = from.skip_files as usize;
    let mut ahead: std::collections::VecDeque<(usize, Option<Opened>)> = Default::default();
    let mut next_open = first;
    for (n, input) in inputs.iter().enumerate().skip(first) {
        while next_open < inputs.len() && next_open <= n + READ_AHEAD_FILES {
            ahead.push_back((next_open, inputs[next_open].open_ahead()));
            next_open += 1;
        }
        let opened = match ahead.front() {
            Some((k, _)) if *k == n => ahead.pop_front().and_then(|(_, o)| o),
            _ => None,
        };
        batch.stats.totals.files += 1;
        let summary = read_input_opened(input, opened, max_doc_bytes, &mut |raw| {
            push(Some(raw), None, &mut batch, &mut stopped)
        });
        batch.stats.totals.skipped += summary.skipped_total();
        for (kind, n) in summary.skipped {
            *batch.stats.skipped.entry(kind).or_insert(0) += n;
        }
        if stopped || (from.mark_files && !push(None, Some(n as u64 + 1), &mut batch, &mut stopped))
        {
            return;
        }
    }
    if !batch.slots.is_empty() {
        send(batch);
    }
}

/// Takes each live document at the end of a cut chain (cluster plans),
/// instead of writing it.
pub(crate) type Spill = Box<dyn FnMut(Document, Option<Prepared>) -> Result<(), String> + Send>;

/// Writes kept documents, rejects and errors in input order.
pub(crate) struct Sink {
    pub docs: Option<OutputWriter>,
    pub rejects: Option<OutputWriter>,
    /// Resumable runs: `docs`/`rejects` are the current file's parts.
    resume: Option<ResumeState>,
    pub stats: Stats,
    pub busy_ns: Vec<u64>,
    records: u64,
    input_bytes: u64,
    progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    print_errors: bool,
    /// Cluster plans: where live documents go instead of `docs`.
    pub spill: Option<Spill>,
}

impl Sink {
    /// A sink writing to `docs` and `rejects` (cluster tasks).
    pub(crate) fn new(
        docs: Option<OutputWriter>,
        rejects: Option<OutputWriter>,
        stats: Stats,
        n_stages: usize,
        print_errors: bool,
    ) -> Sink {
        Sink {
            docs,
            rejects,
            resume: None,
            stats,
            busy_ns: vec![0; n_stages],
            records: 0,
            input_bytes: 0,
            progress: None,
            print_errors,
            spill: None,
        }
    }

    pub(crate) fn write(&mut self, shared: &Shared, mut batch: Batch) {
        for slot in batch.slots.drain(..) {
            let slot = match (slot, self.spill.as_mut()) {
                (Slot::Live(doc, prepared), Some(spill)) => {
                    if let Err(e) = spill(doc, prepared) {
                        shared.fail(e);
                    }
                    continue;
                }
                (slot, _) => slot,
            };
            match slot.encode(shared) {
                Slot::Encoded {
                    json,
                    source,
                    text_len,
                } => {
                    let t = &mut self.stats.totals;
                    t.written += 1;
                    t.bytes_out += text_len;
                    self.stats.length_histogram.add_output(text_len);
                    let s = self.stats.sources.entry(source).or_default();
                    s.written += 1;
                    s.bytes_out += text_len;
                    if let Some(w) = self.docs.as_mut() {
                        if let Err(e) = w.write_record(&json) {
                            shared.fail(e);
                            self.docs = None;
                        }
                    }
                }
                Slot::EncodedReject {
                    json,
                    source,
                    stage_reason,
                } => {
                    self.stats.totals.rejected += 1;
                    let s = self.stats.sources.entry(source).or_default();
                    s.rejected += 1;
                    *s.rejected_by.entry(stage_reason).or_insert(0) += 1;
                    if let Some(w) = self.rejects.as_mut() {
                        if let Err(e) = w.write_record(&json) {
                            shared.fail(e);
                            self.rejects = None;
                        }
                    }
                }
                Slot::Error(e) => {
                    if self.print_errors {
                        eprintln!("{}: {}", e.location, e.message);
                    }
                    if self.stats.errors.len() < MAX_KEPT_ERRORS {
                        self.stats.errors.push(e);
                    }
                }
                Slot::Raw(..) | Slot::Live(..) | Slot::Rejected { .. } => {}
            }
        }
        let mut bs = std::mem::take(&mut batch.stats);
        // Errors were pushed above in order; the batch holds none.
        bs.errors.clear();
        self.stats += &bs;
        for (a, b) in self.busy_ns.iter_mut().zip(&batch.busy_ns) {
            *a += b;
        }
        self.records += bs.totals.records;
        self.input_bytes += batch.input_bytes;
        if let Some(p) = &self.progress {
            p(self.records, self.input_bytes);
        }
        if let Some(files) = batch.file_done {
            if let Err(e) = self.commit_file(files) {
                shared.fail(e);
            }
        }
    }

    /// Resumable runs: commit the parts of the files done so far, then the
    /// journal that names them, then open the next parts.
    fn commit_file(&mut self, files: u64) -> Result<(), String> {
        let Some(r) = self.resume.as_mut() else {
            return Ok(());
        };
        for w in [self.docs.take(), self.rejects.take()]
            .into_iter()
            .flatten()
        {
            w.finish()?;
        }
        r.journal.files_done = files;
        r.journal.seq_next = self.stats.totals.records;
        r.journal.stats = self.stats.clone();
        crate::resume::save(&r.dir, &r.journal)?;
        for base in &r.checkpoint_bases {
            let old = sluicebox_core::stage::checkpoint_path(base, files.saturating_sub(1));
            let _ = std::fs::remove_file(old);
        }
        if std::env::var("SLUICEBOX_FAULT_ABORT_AFTER_FILES").ok() == Some(files.to_string()) {
            // Fault injection for the resume tests: die like a SIGKILL here.
            std::process::abort();
        }
        self.docs = Some(r.part("docs", files));
        self.rejects = Some(r.part("rejects", files));
        Ok(())
    }
}

/// A resumable run's place in `OUTDIR/.resume`.
struct ResumeState {
    dir: PathBuf,
    journal: crate::resume::Journal,
    /// Checkpoint bases of the ordered stages (old generations are removed).
    checkpoint_bases: Vec<PathBuf>,
}

impl ResumeState {
    fn part(&self, kind: &str, file: u64) -> OutputWriter {
        OutputWriter::new(
            OutputFormat::Jsonl,
            &self.dir,
            &crate::resume::part_stem(kind, file),
            OutputCompression::None,
            0,
        )
    }
}

/// Read `opts.inputs` as batches on a reader thread and run them through
/// `phases` on a pool of `opts` threads into `sink` (in input order). The
/// one driver behind the cleaning pass and the profile pass.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    config: &Config,
    opts: RunOptions,
    shared: &Arc<Shared>,
    n_stages: usize,
    phases: Vec<Phase<Batch>>,
    from: ReadFrom,
    pool: Arc<rayon::ThreadPool>,
    sink: impl FnMut(Batch) + Send + 'static,
) -> Result<(), String> {
    let threads = pool.current_num_threads();
    let in_flight = if opts.in_flight == 0 {
        threads * 4
    } else {
        opts.in_flight
    };
    let inputs = opts.inputs;
    let input_errors = opts.input_errors;
    let batch_size = opts.batch_size.max(1);
    let max_doc_bytes = config.input.max_doc_bytes;
    let sh_reader = shared.clone();
    engine::run(
        pool,
        in_flight,
        phases,
        move |send| {
            read_batches(
                &inputs,
                &input_errors,
                batch_size,
                max_doc_bytes,
                n_stages,
                from,
                &mut |b| !sh_reader.cancel.load(Ordering::SeqCst) && send(b),
            )
        },
        sink,
    );
    Ok(())
}

/// The run's worker threads (`threads` = 0: one per core).
pub fn worker_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, String> {
    named_pool(threads, "worker")
}

/// Threads for the profile pass's merges (as many as workers). Merges come
/// one at a time, in batch order, and each spreads its work over this pool;
/// in the workers' pool a merge would wait for a worker to finish its batch,
/// and the ordered path of the pass would stall on every merge.
pub fn merge_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, String> {
    named_pool(threads, "merge")
}

fn named_pool(threads: usize, what: &'static str) -> Result<Arc<rayon::ThreadPool>, String> {
    let threads = effective_threads(threads);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("sluicebox-{what}-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot start {threads} {what} threads: {e}"))
}

/// Run the cleaning pass.
pub fn run(config: &Config, plan: Plan, opts: RunOptions) -> RunSummary {
    let started = Instant::now();
    let threads = opts.effective_threads();
    let stage_ids: Vec<String> = plan.stages.iter().map(|s| s.id.clone()).collect();
    let stage_meta: Vec<(String, String, &'static str)> = plan
        .stages
        .iter()
        .map(|s| (s.id.clone(), s.type_name.clone(), s.placement))
        .collect();
    let n_stages = stage_ids.len();
    let shared = Arc::new(Shared::new(config, stage_ids.clone(), plan.decodes.clone()));

    let compression =
        OutputCompression::parse(&config.output.compression).unwrap_or(OutputCompression::None);
    let mut outputs = Vec::new();
    if let Some(dir) = &opts.out_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return RunSummary {
                stats: Stats::default(),
                busy_seconds: Vec::new(),
                wall_seconds: 0.0,
                threads,
                fatal: Some(format!(
                    "{}: cannot create output directory: {}",
                    dir.display(),
                    sluicebox_io::input::describe(&e)
                )),
                outputs,
            };
        }
    }
    let mut stats = Stats::default();
    for id in &stage_ids {
        stats.stage_mut(id);
    }
    let (pars, mut ords) = phases_of(plan);
    // A resumable run: continue from the journal, or start one.
    let mut from = ReadFrom::default();
    let mut resume = None;
    if opts.resume {
        let started_resume = (|| -> Result<ResumeState, String> {
            let out = opts
                .out_dir
                .as_ref()
                .ok_or("--resume needs an output directory")?;
            if opts.inputs.iter().any(|f| f.path.is_none()) {
                return Err(
                    "--resume needs input files: standard input cannot be read again".into(),
                );
            }
            let dir = crate::resume::dir_of(out);
            let inputs: Vec<String> = opts.inputs.iter().map(|f| f.display.to_string()).collect();
            let journal = crate::resume::load(&dir, &config.text, &inputs)?;
            let journal = match journal {
                Some(j) => {
                    crate::resume::clear_uncommitted(&dir, j.files_done)?;
                    for part in ords.iter_mut().flatten() {
                        if j.files_done > 0 {
                            part.restore(&shared, &dir, j.files_done)?;
                        }
                    }
                    stats = j.stats.clone();
                    from.skip_files = j.files_done;
                    from.seq = j.seq_next;
                    j
                }
                None => {
                    crate::resume::start_fresh(&dir)?;
                    crate::resume::Journal {
                        version: crate::resume::VERSION,
                        config: config.text.clone(),
                        inputs,
                        files_done: 0,
                        seq_next: 0,
                        stats: Stats::default(),
                    }
                }
            };
            let mut checkpoint_bases = Vec::new();
            for part in ords.iter_mut().flatten() {
                part.checkpoints = Some(dir.clone());
                for k in 0..part.instances.len() {
                    checkpoint_bases.push(crate::resume::checkpoint_base(
                        &dir,
                        &shared.stage_ids[part.pos],
                        k,
                    ));
                }
            }
            from.mark_files = true;
            Ok(ResumeState {
                dir,
                journal,
                checkpoint_bases,
            })
        })();
        match started_resume {
            Ok(r) => resume = Some(r),
            Err(e) => {
                return RunSummary {
                    stats: Stats::default(),
                    busy_seconds: Vec::new(),
                    wall_seconds: 0.0,
                    threads,
                    fatal: Some(e),
                    outputs,
                }
            }
        }
    }
    let final_writers = |d: &PathBuf| {
        let format = OutputFormat::parse(&config.output.format).unwrap_or_default();
        (
            OutputWriter::new(
                format,
                d,
                "docs",
                compression,
                config.output.max_docs_per_file,
            ),
            OutputWriter::new(OutputFormat::Jsonl, d, "rejects", compression, 0),
        )
    };
    let (docs, rejects) = match (&resume, &opts.out_dir) {
        (Some(r), _) => (
            Some(r.part("docs", from.skip_files)),
            Some(r.part("rejects", from.skip_files)),
        ),
        (None, Some(d)) => {
            let (a, b) = final_writers(d);
            (Some(a), Some(b))
        }
        (None, None) => (None, None),
    };
    let sink = Sink {
        docs,
        rejects,
        resume,
        stats,
        busy_ns: vec![0; n_stages],
        records: 0,
        input_bytes: 0,
        progress: opts.progress.clone(),
        print_errors: opts.print_errors,
        spill: None,
    };

    let mut phases: Vec<Phase<Batch>> = Vec::new();
    for (par, ord) in pars.into_iter().zip(ords) {
        let sh = shared.clone();
        let parallel: ParallelFn<Batch> = Arc::new(move |b: &mut Batch| par.process(&sh, b));
        let ordered: Option<OrderedFn<Batch>> = ord.map(|part| {
            let mut step = FinishOnDrop {
                part,
                shared: shared.clone(),
            };
            Box::new(move |b: &mut Batch| step.part.process(&step.shared, b)) as OrderedFn<Batch>
        });
        phases.push(Phase { parallel, ordered });
    }
    let sink = Arc::new(Mutex::new(Some(sink)));
    let sink_in = sink.clone();
    let sh_sink = shared.clone();
    let out_dir = opts.out_dir.clone();
    let command = opts.command.clone();
    if let Err(fatal) = worker_pool(opts.threads).and_then(|pool| {
        drive(
            config,
            opts,
            &shared,
            n_stages,
            phases,
            from,
            pool,
            move |b: Batch| {
                if let Ok(mut guard) = sink_in.lock() {
                    if let Some(s) = guard.as_mut() {
                        s.write(&sh_sink, b);
                    }
                }
            },
        )
    }) {
        return RunSummary {
            stats: Stats::default(),
            busy_seconds: Vec::new(),
            wall_seconds: started.elapsed().as_secs_f64(),
            threads,
            fatal: Some(fatal),
            outputs,
        };
    }
    let sink = sink.lock().ok().and_then(|mut g| g.take());
    let Some(sink) = sink else {
        return RunSummary {
            stats: Stats::default(),
            busy_seconds: Vec::new(),
            wall_seconds: started.elapsed().as_secs_f64(),
            threads,
            fatal: Some("internal: output writer lost".into()),
            outputs,
        };
    };
    let fatal = shared.fatal.lock().ok().and_then(|f| f.clone());
    let Sink {
        mut docs,
        mut rejects,
        stats,
        busy_ns,
        resume,
        ..
    } = sink;
    let wall_seconds = started.elapsed().as_secs_f64();
    let busy_seconds: Vec<(String, f64)> = stage_ids
        .iter()
        .cloned()
        .zip(busy_ns.iter().map(|ns| *ns as f64 / 1e9))
        .collect();
    let mut fatal = fatal;
    if let (None, Some(r), Some(dir)) = (&fatal, &resume, &out_dir) {
        // Every file's part is committed: join them into the usual outputs.
        // (The parts opened after the last file hold nothing; dropped.)
        let (mut d, mut rj) = final_writers(dir);
        let files = r.journal.files_done;
        let joined = crate::resume::replay_parts(&r.dir, "docs", files, &mut |l| d.write_record(l))
            .and_then(|()| {
                crate::resume::replay_parts(&r.dir, "rejects", files, &mut |l| rj.write_record(l))
            });
        match joined {
            Ok(()) => {
                docs = Some(d);
                rejects = Some(rj);
            }
            Err(e) => fatal = Some(e),
        }
    }
    if fatal.is_none() {
        if let Some(dir) = &out_dir {
            for w in [docs, rejects].into_iter().flatten() {
                match w.finish() {
                    Ok(files) => outputs.extend(files),
                    Err(e) => {
                        fatal = Some(e);
                        break;
                    }
                }
            }
            if fatal.is_none() {
                let doc = stats_json(
                    &stats,
                    &stage_meta,
                    &busy_seconds,
                    wall_seconds,
                    threads,
                    config,
                    &command,
                );
                let path = dir.join("stats.json");
                match write_atomic(&path, &doc) {
                    Ok(()) => outputs.push(path),
                    Err(e) => fatal = Some(e),
                }
            }
            if let (None, Some(r)) = (&fatal, &resume) {
                if let Err(e) = std::fs::remove_dir_all(&r.dir) {
                    eprintln!("warning: {}: cannot remove: {e}", r.dir.display());
                }
            }
        }
    }
    if fatal.is_none() && !stats.balanced() {
        fatal = Some(format!(
            "internal: accounting does not balance ({:?}); please report this",
            stats.totals
        ));
    }
    RunSummary {
        stats,
        busy_seconds,
        wall_seconds,
        threads,
        fatal,
        outputs,
    }
}

/// An ordered step whose stage is finished once its last batch has passed
/// (the sequencer drops it when its input closes).
struct FinishOnDrop {
    part: OrderedPart,
    shared: Arc<Shared>,
}

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.part.finish(&self.shared);
    }
}

fn write_atomic(path: &std::path::Path, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    sluicebox_io::write_file_atomic(path, &[text.as_bytes(), b"\n"])
}

/// The `stats.json` document. Everything except `timings`, `command` and
/// `config.run` is identical for any thread count and batch size.
pub fn stats_json(
    stats: &Stats,
    stage_meta: &[(String, String, &'static str)],
    busy: &[(String, f64)],
    wall: f64,
    threads: usize,
    config: &Config,
    command: &str,
) -> Value {
    let mut stages = Vec::new();
    for (id, type_name, placement) in stage_meta {
        let st = stats.stage(id).cloned().unwrap_or_default();
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("type".into(), json!(type_name));
        m.insert("placement".into(), json!(placement));
        if let Ok(Value::Object(o)) = serde_json::to_value(&st) {
            m.extend(o);
        }
        stages.push(Value::Object(m));
    }
    let config_json = toml::from_str::<toml::Value>(&config.text)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null);
    json!({
        "totals": stats.totals,
        "stages": stages,
        "sources": stats.sources,
        "errors": stats.errors,
        "length_histogram": stats.length_histogram,
        "skipped": stats.skipped,
        "timings": {
            "threads": threads,
            "wall_seconds": wall,
            "busy_seconds": busy.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>(),
        },
        "command": command,
        "config": config_json,
    })
}
