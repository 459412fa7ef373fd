//! The class panel: the class list (pick, show / hide, usage, add) and the active
//! class's admin (rename, thing / stuff, colour, retire, merge). It keeps its own text
//! drafts and returns what the user did; the app applies it to the project.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::ontology::{Color, Ontology};

/// What the user did in the class panel.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassAction {
    Pick(u32),
    SetHidden(u32, bool),
    Add(String),
    Rename(u32, String),
    SetThing(u32, bool),
    SetColor(u32, Color),
    Retire(u32),
    Merge { from: u32, into: u32 },
}

/// How many recently used classes the panel lists first.
pub const RECENT_CLASSES: usize = 5;

/// Rows the class list shows before it scrolls (the segment list below stays visible
/// with a 133-class ontology).
const LIST_HEIGHT: f32 = 200.0;

/// The panel's own state: what is being typed, the filter, recent classes.
#[derive(Debug, Default)]
pub struct ClassPanel {
    new_name: String,
    rename: String,
    /// The class `rename` was filled from: another active class refills it.
    rename_for: Option<u32>,
    /// Type-to-find text (name or id).
    pub filter: String,
    /// The filtered row Enter picks (Up / Down move it).
    highlighted: usize,
    /// Focus the filter on the next frame ([`super::command::Command::FindClass`]).
    focus_filter: bool,
    /// Most recently used first.
    pub recent: Vec<u32>,
    last_active: Option<u32>,
    /// A merge waiting for the user's yes: (from, into).
    pub confirm_merge: Option<(u32, u32)>,
}

/// The classes whose name (case-insensitive) or id contains `filter`, in list order.
pub fn filtered(ontology: &Ontology, filter: &str) -> Vec<u32> {
    let f = filter.trim().to_lowercase();
    ontology
        .active_categories()
        .filter(|c| f.is_empty() || c.name.to_lowercase().contains(&f) || c.id.to_string() == f)
        .map(|c| c.id)
        .collect()
}

impl ClassPanel {
    /// The new class was added: clear its name.
    pub fn added(&mut self) {
        self.new_name.clear();
    }

    /// Puts the keyboard in the class filter on the next frame.
    pub fn find(&mut self) {
        self.focus_filter = true;
    }

    /// Remembers `id` as the most recently used class.
    fn used(&mut self, id: u32) {
        self.recent.retain(|&r| r != id);
        self.recent.insert(0, id);
        self.recent.truncate(RECENT_CLASSES);
    }

    /// The filter, recently used classes, then one row per active class (colour, id,
    /// name, kind, usage in the open image, shown) in a bounded scroll area, and the row
    /// that adds a class.
    pub fn list_ui(
        &mut self,
        ui: &mut egui::Ui,
        ontology: &Ontology,
        active: Option<u32>,
        hidden: &BTreeSet<u32>,
        usage: Option<&BTreeMap<u32, usize>>,
    ) -> Vec<ClassAction> {
        let mut actions = Vec::new();
        if active != self.last_active {
            if let Some(id) = active {
                self.used(id);
            }
            self.last_active = active;
        }
        self.recent.retain(|&id| ontology.active(id).is_some());
        let position: BTreeMap<u32, usize> = ontology
            .active_categories()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let matches = filtered(ontology, &self.filter);
        self.highlighted = self.highlighted.min(matches.len().saturating_sub(1));
        let filter = ui
            .horizontal(|ui| {
                let label = ui.label("Find:");
                ui.add(
                    egui::TextEdit::singleline(&mut self.filter)
                        .id(egui::Id::unique("class_filter"))
                        .hint_text("class name or id (/)")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(label.id)
            })
            .inner;
        if std::mem::take(&mut self.focus_filter) {
            filter.request_focus();
        }
        if filter.changed() {
            self.highlighted = 0;
        }
        if filter.has_focus() {
            let (down, up, esc) = ui.input(|i| {
                (
                    i.key_pressed(egui::Key::ArrowDown),
                    i.key_pressed(egui::Key::ArrowUp),
                    i.key_pressed(egui::Key::Escape),
                )
            });
            if down && self.highlighted + 1 < matches.len() {
                self.highlighted += 1;
            }
            if up {
                self.highlighted = self.highlighted.saturating_sub(1);
            }
            if esc {
                self.filter.clear();
                filter.surrender_focus();
            }
        }
        if filter.lost_focus()
            && ui.input(|i| i.key_pressed(egui::Key::Enter))
            && let Some(&id) = matches.get(self.highlighted)
        {
            actions.push(ClassAction::Pick(id));
            self.filter.clear();
        }
        let keyboard = !self.filter.trim().is_empty();
        if self.filter.trim().is_empty() && self.recent.len() > 1 {
            ui.horizontal_wrapped(|ui| {
                ui.weak("recent:");
                for &id in &self.recent {
                    let Some(c) = ontology.active(id) else {
                        continue;
                    };
                    if ui
                        .selectable_label(active == Some(id), &c.name)
                        .on_hover_text(format!("class id {id}"))
                        .clicked()
                    {
                        actions.push(ClassAction::Pick(id));
                    }
                }
            });
        }
        egui::ScrollArea::vertical()
            .id_salt("class_list")
            .max_height(LIST_HEIGHT)
            .show(ui, |ui| {
                for (row, &id) in matches.iter().enumerate() {
                    let Some(c) = ontology.active(id) else {
                        continue;
                    };
                    ui.horizontal(|ui| {
                        let [r, g, b] = c.color.0;
                        let (rect, _) =
                            ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                        ui.painter()
                            .rect_filled(rect, 2.0, egui::Color32::from_rgb(r, g, b));
                        let n = usage.and_then(|u| u.get(&c.id)).copied().unwrap_or(0);
                        let kind = if c.isthing { "thing" } else { "stuff" };
                        let key = position.get(&id).copied().filter(|&p| p < 9);
                        let how = match key {
                            Some(p) => format!("press {} to pick", p + 1),
                            None => "type its name or id in the filter above (/) to pick".into(),
                        };
                        let picked = active == Some(id) || (keyboard && row == self.highlighted);
                        let label = ui
                            .selectable_label(picked, format!("{} {} ({kind}, {n})", c.id, c.name))
                            .on_hover_text(format!("class id {}: {how}", c.id));
                        if keyboard && row == self.highlighted {
                            label.scroll_to_me(None);
                        }
                        if label.clicked() {
                            actions.push(ClassAction::Pick(c.id));
                        }
                        let mut shown = !hidden.contains(&c.id);
                        if ui
                            .checkbox(&mut shown, "show")
                            .on_hover_text("Show this class in the overlay")
                            .changed()
                        {
                            actions.push(ClassAction::SetHidden(c.id, !shown));
                        }
                    });
                }
                if matches.is_empty() {
                    ui.weak("no class matches");
                }
            });
        ui.horizontal(|ui| {
            let label = ui.label("New:");
            ui.add(egui::TextEdit::singleline(&mut self.new_name).desired_width(140.0))
                .labelled_by(label.id);
            if ui.button("Add class").clicked() {
                actions.push(ClassAction::Add(self.new_name.trim().to_string()));
            }
        });
        actions
    }

    /// Rename, thing / stuff, colour, retire (refused while in use: the app says so) and
    /// merge of the active class.
    pub fn admin_ui(
        &mut self,
        ui: &mut egui::Ui,
        ontology: &Ontology,
        active: Option<u32>,
    ) -> Vec<ClassAction> {
        let mut actions = Vec::new();
        let Some(class) = active.and_then(|id| ontology.active(id)) else {
            return actions;
        };
        let id = class.id;
        if self.rename_for != Some(id) {
            self.rename = class.name.clone();
            self.rename_for = Some(id);
        }
        // A fixed id: open, it stays open when another class becomes active.
        let header = egui::CollapsingHeader::new(format!("Edit class “{}”", class.name))
            .id_salt("edit_class");
        header.show(ui, |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Name:");
                ui.add(egui::TextEdit::singleline(&mut self.rename).desired_width(120.0))
                    .labelled_by(label.id);
                if ui.button("rename").clicked() {
                    actions.push(ClassAction::Rename(id, self.rename.trim().to_string()));
                }
            });
            let mut isthing = class.isthing;
            if ui
                .checkbox(&mut isthing, "thing (countable instances)")
                .changed()
            {
                actions.push(ClassAction::SetThing(id, isthing));
            }
            let [r, g, b] = class.color.0;
            let mut color = egui::Color32::from_rgb(r, g, b);
            if ui.color_edit_button_srgba(&mut color).changed() {
                actions.push(ClassAction::SetColor(
                    id,
                    Color([color.r(), color.g(), color.b()]),
                ));
            }
            if ui
                .button("retire")
                .on_hover_text("Keeps the id as a tombstone; refused while segments use it")
                .clicked()
            {
                actions.push(ClassAction::Retire(id));
            }
            ui.menu_button("merge into…", |ui| {
                for other in ontology.active_categories().filter(|c| c.id != id) {
                    if ui.button(&other.name).clicked() {
                        self.confirm_merge = Some((id, other.id));
                        ui.close();
                    }
                }
            });
        });
        actions
    }

    /// The merge confirmation, while one waits: it says what changes and that it cannot
    /// be undone; only its Merge button merges.
    pub fn confirm_ui(
        &mut self,
        ctx: &egui::Context,
        ontology: &Ontology,
        usage: Option<usize>,
    ) -> Vec<ClassAction> {
        let mut actions = Vec::new();
        let Some((from, into)) = self.confirm_merge else {
            return actions;
        };
        let name = |id: u32| {
            ontology
                .get(id)
                .map_or_else(|| id.to_string(), |c| c.name.clone())
        };
        let mut keep = true;
        egui::Window::new("Merge classes?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(format!(
                    "Every segment of “{}” in every image becomes “{}”{}, and “{}” is retired.",
                    name(from),
                    name(into),
                    usage.map_or_else(String::new, |n| format!(" ({n} segment(s))")),
                    name(from)
                ));
                ui.label("This changes the whole project and cannot be undone.");
                ui.horizontal(|ui| {
                    if ui.button("Merge").clicked() {
                        actions.push(ClassAction::Merge { from, into });
                        keep = false;
                    }
                    if ui.button("Cancel").clicked() {
                        keep = false;
                    }
                });
            });
        if !keep {
            self.confirm_merge = None;
        }
        actions
    }
}
