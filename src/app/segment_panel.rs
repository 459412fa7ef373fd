//! The selected segment's panel: class, iscrowd, z-order, comments and review state. It
//! keeps the comment being typed and returns what the user did; each change the app
//! applies is one undo step.

use crate::core::document::{ReviewState, Segment};
use crate::core::ontology::Ontology;

/// What the user did in the segment panel.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentAction {
    /// The segment's new class, iscrowd flag or z (one edit).
    Change(Segment),
    Comment(String),
    SetReview(ReviewState),
}

/// The panel's own state: the comment being typed.
#[derive(Debug, Default)]
pub struct SegmentPanel {
    comment: String,
}

impl SegmentPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        selected: Option<&Segment>,
        ontology: &Ontology,
    ) -> Vec<SegmentAction> {
        let mut actions = Vec::new();
        let Some(seg) = selected else {
            ui.label("none (Select tool, then click a segment)");
            return actions;
        };
        let mut after = seg.clone();
        let current = ontology
            .get(seg.category_id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        egui::ComboBox::from_label("class")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for c in ontology.active_categories() {
                    ui.selectable_value(&mut after.category_id, c.id, &c.name);
                }
            });
        ui.checkbox(&mut after.iscrowd, "iscrowd")
            .on_hover_text("A crowd region: many instances labeled as one");
        ui.horizontal(|ui| {
            ui.label(format!("z {}", after.z));
            if ui
                .button("up")
                .on_hover_text("Raise: wins overlaps")
                .clicked()
            {
                after.z += 1;
            }
            if ui
                .button("down")
                .on_hover_text("Lower: loses overlaps")
                .clicked()
            {
                after.z -= 1;
            }
        });
        if after != *seg {
            actions.push(SegmentAction::Change(after));
        }
        ui.horizontal(|ui| {
            let label = ui.label("Comment:");
            ui.add(egui::TextEdit::singleline(&mut self.comment).desired_width(150.0))
                .labelled_by(label.id);
            if ui.button("add").clicked() && !self.comment.trim().is_empty() {
                actions.push(SegmentAction::Comment(self.comment.trim().to_string()));
                self.comment.clear();
            }
        });
        ui.horizontal(|ui| {
            ui.label(format!("review: {}", review_label(seg.review)));
            if ui
                .small_button("accept")
                .on_hover_text("Mark this segment accepted")
                .clicked()
            {
                actions.push(SegmentAction::SetReview(ReviewState::Accepted));
            }
            if ui
                .small_button("needs fix")
                .on_hover_text("Mark this segment as needing a fix (add a comment why)")
                .clicked()
            {
                actions.push(SegmentAction::SetReview(ReviewState::NeedsFix));
            }
        });
        for c in &seg.comments {
            ui.label(format!(
                "• {}{}",
                c.text,
                c.author
                    .as_ref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default()
            ));
        }
        actions
    }
}

fn review_label(s: ReviewState) -> &'static str {
    match s {
        ReviewState::Unreviewed => "unreviewed",
        ReviewState::Accepted => "accepted",
        ReviewState::NeedsFix => "needs fix",
    }
}
