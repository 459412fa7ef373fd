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

/// The panel's own state: what is being typed.
#[derive(Debug, Default)]
pub struct ClassPanel {
    new_name: String,
    rename: String,
}

impl ClassPanel {
    /// The new class was added: clear its name.
    pub fn added(&mut self) {
        self.new_name.clear();
    }

    /// One row per active class (colour, key, kind, usage in the open image, shown) and
    /// the row that adds a class.
    pub fn list_ui(
        &mut self,
        ui: &mut egui::Ui,
        ontology: &Ontology,
        active: Option<u32>,
        hidden: &BTreeSet<u32>,
        usage: Option<&BTreeMap<u32, usize>>,
    ) -> Vec<ClassAction> {
        let mut actions = Vec::new();
        ui.heading("Classes");
        for (i, c) in ontology.active_categories().enumerate() {
            ui.horizontal(|ui| {
                let [r, g, b] = c.color.0;
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter()
                    .rect_filled(rect, 2.0, egui::Color32::from_rgb(r, g, b));
                let key = if i < 9 {
                    format!("{} ", i + 1)
                } else {
                    String::new()
                };
                let n = usage.and_then(|u| u.get(&c.id)).copied().unwrap_or(0);
                let kind = if c.isthing { "thing" } else { "stuff" };
                if ui
                    .selectable_label(
                        active == Some(c.id),
                        format!("{key}{} ({kind}, {n})", c.name),
                    )
                    .on_hover_text(format!("class id {} — press {} to pick", c.id, key.trim()))
                    .clicked()
                {
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
        egui::CollapsingHeader::new(format!("Edit class “{}”", class.name)).show(ui, |ui| {
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
                        actions.push(ClassAction::Merge {
                            from: id,
                            into: other.id,
                        });
                        ui.close();
                    }
                }
            });
        });
        actions
    }
}
