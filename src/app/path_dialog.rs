//! The in-app file and folder chooser: a path field with completion from the folder it
//! names. It always opens, on every desktop (native dialogs need an xdg portal or
//! zenity, and fail without a word where neither is installed); a button offers the
//! native dialog too. It returns what the user chose and what for; the app acts on it.

use std::path::{Path, PathBuf};

use crate::core::formats::Format;

/// What a chosen path is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    OpenProject,
    Export(Format),
    PrelabelModel,
    /// Gold labels: a project folder (`true`) or a COCO panoptic JSON.
    Gold {
        folder: bool,
    },
}

impl Purpose {
    /// The window title.
    pub fn title(&self) -> String {
        match self {
            Purpose::OpenProject => "Open a project or a folder of images".into(),
            Purpose::Export(f) => format!("Export as {}: a new or empty folder", f.name()),
            Purpose::PrelabelModel => "Pre-label: a model config (.json)".into(),
            Purpose::Gold { folder: true } => "Gold labels: a project folder".into(),
            Purpose::Gold { folder: false } => "Gold labels: a COCO panoptic JSON".into(),
        }
    }

    /// True when the answer is a folder.
    pub fn wants_folder(&self) -> bool {
        !matches!(
            self,
            Purpose::PrelabelModel | Purpose::Gold { folder: false }
        )
    }

    /// Why `path` cannot be the answer, if it cannot.
    pub fn check(&self, path: &Path) -> Result<(), String> {
        if path.as_os_str().is_empty() {
            return Err("type a path".into());
        }
        match self {
            Purpose::Export(_) => {
                if path.is_file() {
                    return Err(format!("{} is a file; choose a folder", path.display()));
                }
                if !path.exists() && !path.parent().is_some_and(Path::is_dir) {
                    return Err(format!(
                        "{}: its parent folder does not exist",
                        path.display()
                    ));
                }
                Ok(())
            }
            _ if self.wants_folder() => path
                .is_dir()
                .then_some(())
                .ok_or_else(|| format!("{} is not a folder", path.display())),
            _ => path
                .is_file()
                .then_some(())
                .ok_or_else(|| format!("{} is not a file", path.display())),
        }
    }
}

/// Entries of the folder `text` names that start with its last part: (completed text,
/// is a folder), folders first, at most `limit`.
pub fn completions(text: &str, limit: usize) -> Vec<(String, bool)> {
    let (dir, prefix) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let read_from = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_from) else {
        return Vec::new();
    };
    let mut out: Vec<(String, bool)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let hidden = name.starts_with('.') && !prefix.starts_with('.');
            (name.starts_with(prefix) && !hidden).then(|| {
                let is_dir = e.path().is_dir();
                (
                    format!("{dir}{name}{}", if is_dir { "/" } else { "" }),
                    is_dir,
                )
            })
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(limit);
    out
}

/// The longest common start of `items` (what Tab completes to).
fn common_prefix(items: &[(String, bool)]) -> Option<String> {
    let first = &items.first()?.0;
    let mut n = first.len();
    for (s, _) in &items[1..] {
        n = n.min(
            first
                .char_indices()
                .zip(s.chars())
                .take_while(|((_, a), b)| a == b)
                .last()
                .map_or(0, |((i, a), _)| i + a.len_utf8()),
        );
    }
    Some(first[..n].to_string())
}

/// The chooser's state: the open request and the text typed.
#[derive(Debug, Default)]
pub struct PathDialog {
    open: Option<(Purpose, String)>,
    error: Option<String>,
    focus: bool,
}

/// What the user did in the chooser.
#[derive(Debug, Clone, PartialEq)]
pub enum PathAnswer {
    Chosen(Purpose, PathBuf),
    /// Use the system's dialog for this purpose instead.
    Native(Purpose),
}

impl PathDialog {
    /// Opens the chooser for `purpose`, starting at `start`.
    pub fn ask(&mut self, purpose: Purpose, start: &Path) {
        let mut text = start.display().to_string();
        if start.is_dir() && !text.ends_with('/') {
            text.push('/');
        }
        self.open = Some((purpose, text));
        self.error = None;
        self.focus = true;
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The text in the path field (for tests and the native dialog's start).
    pub fn text(&self) -> Option<&str> {
        self.open.as_ref().map(|(_, t)| t.as_str())
    }

    pub fn ui(&mut self, ctx: &egui::Context) -> Option<PathAnswer> {
        let (purpose, mut text) = self.open.take()?;
        let mut answer = None;
        let mut keep = true;
        egui::Window::new(purpose.title())
            .id(egui::Id::unique("path_dialog"))
            .collapsible(false)
            .default_width(520.0)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                let field = ui
                    .horizontal(|ui| {
                        let label = ui.label("Path:");
                        ui.add(
                            egui::TextEdit::singleline(&mut text)
                                .id(egui::Id::unique("path_dialog_field"))
                                .desired_width(f32::INFINITY)
                                .hint_text("/path/to/folder"),
                        )
                        .labelled_by(label.id)
                    })
                    .inner;
                if std::mem::take(&mut self.focus) {
                    field.request_focus();
                }
                let found = completions(&text, 200);
                if field.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Tab)) {
                    if let Some(p) = common_prefix(&found) {
                        text = p;
                    }
                    field.request_focus();
                }
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                egui::ScrollArea::vertical()
                    .max_height(220.0)
                    .show(ui, |ui| {
                        for (path, is_dir) in &found {
                            let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                            let shown = if *is_dir {
                                format!("{name}/")
                            } else {
                                name.to_string()
                            };
                            if ui.selectable_label(false, shown).clicked() {
                                text = path.clone();
                                self.focus = true;
                            }
                        }
                        if found.is_empty() {
                            ui.weak("(no matching entries)");
                        }
                    });
                if let Some(e) = &self.error {
                    ui.colored_label(egui::Color32::from_rgb(220, 70, 70), e);
                }
                ui.horizontal(|ui| {
                    let ok = ui.button("OK").clicked();
                    if ok || enter {
                        let path = PathBuf::from(text.trim());
                        match purpose.check(&path) {
                            Ok(()) => {
                                answer = Some(PathAnswer::Chosen(purpose.clone(), path));
                                keep = false;
                            }
                            Err(e) => {
                                self.error = Some(e);
                                self.focus = true;
                            }
                        }
                    }
                    if ui.button("Cancel").clicked()
                        || ui.input(|i| i.key_pressed(egui::Key::Escape))
                    {
                        keep = false;
                    }
                    if ui
                        .button("System dialog…")
                        .on_hover_text("The desktop's own chooser (needs an xdg portal or zenity)")
                        .clicked()
                    {
                        answer = Some(PathAnswer::Native(purpose.clone()));
                        keep = false;
                    }
                });
                ui.weak("Tab completes; Enter chooses; Esc cancels");
            });
        if keep {
            self.open = Some((purpose, text));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_lists_folders_first_and_tab_takes_the_common_start() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("photos")).unwrap();
        std::fs::create_dir(d.path().join("photos-raw")).unwrap();
        std::fs::write(d.path().join("photo.txt"), b"x").unwrap();
        let base = format!("{}/", d.path().display());
        let found = completions(&format!("{base}ph"), 10);
        let names: Vec<&str> = found.iter().map(|(p, _)| &p[base.len()..]).collect();
        assert_eq!(names, ["photos-raw/", "photos/", "photo.txt"]);
        assert_eq!(common_prefix(&found).unwrap(), format!("{base}photo"));
        let export = Purpose::Export(Format::CocoPanoptic);
        assert!(export.check(&d.path().join("new-folder")).is_ok());
        assert!(export.check(&d.path().join("photo.txt")).is_err());
        assert!(export.check(&d.path().join("no/such/parent")).is_err());
        assert!(Purpose::OpenProject.check(&d.path().join("photos")).is_ok());
        assert!(
            Purpose::PrelabelModel
                .check(&d.path().join("photos"))
                .is_err()
        );
    }
}
