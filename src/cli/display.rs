//! How events are shown: a progress bar per running upload and one line per
//! result, or one JSON object per line (`--json`, the reference plugin's
//! field names, see [`bgupload_io::event_to_json`]).

use bgupload_fsm::{Event, Outcome, TerminalEvent};
use bgupload_io::event_to_json;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;

/// Characters of `serverResponse` shown on a result line.
const SHOWN_RESPONSE_CHARS: usize = 160;
/// Characters of a label shown before a bar.
const LABEL_CHARS: usize = 28;

pub struct Display {
    json: bool,
    multi: MultiProgress,
    style: ProgressStyle,
    bars: HashMap<String, ProgressBar>,
    /// Upload id → what to call it (a file name).
    labels: HashMap<String, String>,
    /// Turns `serverResponse` into the text shown on a result line.
    summarize_response: fn(&str) -> String,
}

impl Display {
    pub fn new(json: bool) -> Display {
        let multi = if json {
            MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
        } else {
            MultiProgress::new()
        };
        let style = ProgressStyle::with_template("{prefix:28} [{bar:40.cyan/blue}] {pos:>3}%")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        Display {
            json,
            multi,
            style,
            bars: HashMap::new(),
            labels: HashMap::new(),
            summarize_response: |response| {
                format!("serverResponse {}", shorten(response, SHOWN_RESPONSE_CHARS))
            },
        }
    }

    /// Shows each `serverResponse` as `summarize` puts it.
    pub fn with_response_summary(mut self, summarize: fn(&str) -> String) -> Display {
        self.summarize_response = summarize;
        self
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Names an upload (shown instead of its id).
    pub fn set_label(&mut self, upload_id: &str, label: String) {
        self.labels.insert(upload_id.to_owned(), label);
    }

    pub fn label(&self, upload_id: &str) -> String {
        self.labels
            .get(upload_id)
            .cloned()
            .unwrap_or_else(|| upload_id.to_owned())
    }

    /// Prints a line to stdout above the bars.
    pub fn line(&self, text: &str) {
        self.multi.suspend(|| out!("{text}"));
    }

    /// Shows one event. `note` is appended to a result line (human form only).
    pub fn event(&mut self, event: &Event, note: &str) {
        if self.json {
            self.line(&event_to_json(event).to_string());
            if let Event::Terminal(terminal) = event {
                self.clear_bar(terminal.upload_id.as_str());
            }
            return;
        }
        match event {
            Event::Progress {
                upload_id,
                progress,
            } => self.progress(upload_id.as_str(), *progress),
            Event::Terminal(terminal) => {
                self.clear_bar(terminal.upload_id.as_str());
                let line = self.result_line(terminal, note);
                self.line(&line);
            }
            Event::Rejected(rejection) => {
                let id = rejection.id.as_deref().unwrap_or("(no id)");
                self.line(&format!("FAILED    {id}  refused: {}", rejection.error));
            }
        }
    }

    fn progress(&mut self, upload_id: &str, progress: u8) {
        let bar = match self.bars.get(upload_id) {
            Some(bar) => bar.clone(),
            None => {
                let bar = self.multi.add(ProgressBar::new(100));
                bar.set_style(self.style.clone());
                bar.set_prefix(shorten(&self.label(upload_id), LABEL_CHARS));
                self.bars.insert(upload_id.to_owned(), bar.clone());
                bar
            }
        };
        bar.set_position(u64::from(progress.min(100)));
    }

    fn clear_bar(&mut self, upload_id: &str) {
        if let Some(bar) = self.bars.remove(upload_id) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// `UPLOADED  eventId 3  <label>  statusCode 201  serverResponse …`
    pub fn result_line(&self, event: &TerminalEvent, note: &str) -> String {
        let label = self.label(event.upload_id.as_str());
        let detail = match &event.outcome {
            Outcome::Uploaded {
                status_code,
                server_response,
                response_truncated,
            } => {
                let cut = if *response_truncated { " (cut)" } else { "" };
                format!(
                    "statusCode {status_code}  {}{cut}",
                    (self.summarize_response)(server_response)
                )
            }
            Outcome::Failed { error, error_code } => {
                format!("errorCode {error_code}  error {error}")
            }
            Outcome::FailedByServer {
                error,
                status_code,
                server_response,
                ..
            } => format!(
                "errorCode {status_code}  error {error}  {}",
                (self.summarize_response)(server_response)
            ),
        };
        let state = Event::Terminal(event.clone()).state();
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("  ({note})")
        };
        format!(
            "{state:<9} eventId {}  {label}  {detail}{note}",
            event.event_id
        )
    }

    /// Removes every bar (before a summary).
    pub fn clear(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

/// `text` with its control characters (C0, DEL, C1) escaped, so that an
/// id or a name from outside can neither split a line nor reach the
/// terminal as a command.
/// A refusal as one line: its message, and its code when it has one.
pub fn refusal(rejection: &bgupload_fsm::Rejection) -> String {
    let code = rejection
        .error_code
        .map(|code| format!(" (errorCode {code})"))
        .unwrap_or_default();
    format!("{}{code}", escaped(&rejection.error))
}

pub fn escaped(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_control() {
            shown.extend(character.escape_default());
        } else {
            shown.push(character);
        }
    }
    shown
}

/// `text` cut to `max` characters, with `…` when cut; line breaks flattened.
pub fn shorten(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `1.5 MiB`-style size.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cuts() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("a\nb", 5), "a b");
    }
}
