//! The canvas: image + resolved label-map overlay, zoom / pan, and the drawing tools.
//! Tools never touch the document: they return [`Edit`]s for the app to apply.

use egui::{Color32, Pos2, Sense, Stroke, Vec2};

use super::assist::PromptDraft;
use super::command::Command;
use super::tiles::TiledTexture;
use super::view::ViewTransform;
use crate::core::document::{Geometry, Segment, Source};
use crate::core::edit::history::Edit;
use crate::core::edit::paint::{BrushMode, BrushTarget, brush_edit, erase_edit, stamp_line};
use crate::core::edit::polygon_edit::{self, SnapIndex, VertexRef};
use crate::core::edit::session::ImageSession;
use crate::core::geometry::PolygonWithHoles;
use crate::core::geometry::{PixelRect, Point};
use crate::core::labelmap::LabelMap;
use crate::core::ontology::Ontology;

/// Drawing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Select,
    Polygon,
    /// Model assist: left click adds a positive click, right (or shift-) click a negative one.
    Click,
    /// Model assist: drag a scribble (right or shift-drag: negative).
    Scribble,
    /// Model assist: drag a box around the object.
    Box,
    /// Paint into the selected segment (or a new one of the active class).
    Brush,
    /// Erase from the selected segment (or from every segment under the stroke).
    Eraser,
    /// Flood fill by colour tolerance: a new segment of the active class.
    Wand,
}

impl Tool {
    pub const ALL: [Tool; 8] = [
        Tool::Select,
        Tool::Polygon,
        Tool::Brush,
        Tool::Eraser,
        Tool::Wand,
        Tool::Click,
        Tool::Scribble,
        Tool::Box,
    ];

    /// True for the tools that need the model.
    pub fn uses_model(self) -> bool {
        matches!(self, Tool::Click | Tool::Scribble | Tool::Box)
    }

    pub fn label(self) -> &'static str {
        match self {
            Tool::Select => "Select",
            Tool::Polygon => "Polygon",
            Tool::Click => "Click",
            Tool::Scribble => "Scribble",
            Tool::Box => "Box",
            Tool::Brush => "Brush",
            Tool::Eraser => "Eraser",
            Tool::Wand => "Wand",
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Tool::Select => "click picks the topmost segment",
            Tool::Polygon => "click vertices; close on the first vertex or Enter",
            Tool::Click => "model: left-click object, right/shift-click background; Enter accepts",
            Tool::Scribble => {
                "model: drag over the object, right/shift-drag over background; Enter accepts"
            }
            Tool::Box => "model: drag a box around the object; Enter accepts",
            Tool::Brush => "paint into the selected segment (none selected: a new one); [ ] size",
            Tool::Eraser => "erase from the selected segment (none selected: from all); [ ] size",
            Tool::Wand => "click: flood fill by colour tolerance into a new segment",
        }
    }
}

/// What the canvas reads each frame (the store; the canvas never writes it).
pub struct CanvasContext<'a> {
    pub session: Option<&'a ImageSession>,
    pub ontology: &'a Ontology,
    pub active_class: Option<u32>,
    /// An image decode is running.
    pub loading: bool,
    /// Decoded pixels of the image on screen (for the wand).
    pub rgb: Option<&'a image::RgbImage>,
    /// Commands the user gave this frame (the canvas runs the view and drawing ones).
    pub commands: &'a [Command],
}

/// What one frame of the canvas produced.
#[derive(Default)]
pub struct CanvasOutput {
    /// Document edits, each one undo step.
    pub edits: Vec<Edit>,
    /// Messages for the user.
    pub messages: Vec<String>,
    /// The prompts changed: ask the model again.
    pub prompts_changed: bool,
    /// Turn the model's preview into a segment.
    pub accept_prediction: bool,
}

/// What a tool that makes a segment says when no class is active.
pub const PICK_A_CLASS_FIRST: &str = "Add or pick a class first (right panel, keys 1-9)";

/// Closing distance to the first vertex, in screen points.
const CLOSE_DISTANCE: f32 = 8.0;
/// Snapping and vertex-grab distance, in screen points.
const SNAP_DISTANCE: f32 = 8.0;

/// View state of the canvas (no document data).
pub struct Canvas {
    pub tool: Tool,
    pub view: ViewTransform,
    pub opacity: f32,
    pub outline_only: bool,
    pub selected: Option<u32>,
    /// Vertices of the polygon being drawn, in image coordinates.
    pub drawing: Vec<Pos2>,
    image: Option<TiledTexture>,
    image_size: Vec2,
    overlay: Option<TiledTexture>,
    /// (session revision, outline mode, hidden-classes revision) of the overlay.
    overlay_key: Option<(u64, bool, u64)>,
    /// Classes whose segments are not drawn.
    pub hidden: std::collections::BTreeSet<u32>,
    hidden_rev: u64,
    /// Draw the next polygon as a hole in the selected segment.
    pub hole_mode: bool,
    /// Colour tolerance of the wand (RGB distance).
    pub wand_tolerance: f32,
    snap: Option<SnapIndex>,
    snap_key: Option<u64>,
    /// Vertex being dragged in the Select tool, and where it is now.
    dragging_vertex: Option<(u32, VertexRef, Point)>,
    preview: Option<TiledTexture>,
    preview_key: Option<u64>,
    /// Brush / eraser radius in image pixels.
    pub brush_radius: f32,
    pub brush_mode: BrushMode,
    /// Pixels covered by the stroke being dragged, and its path for drawing.
    stroke_mask: Option<crate::core::geometry::BitMask>,
    stroke_path: Vec<[f32; 2]>,
    needs_fit: bool,
    /// Where the box being dragged ends now (image coordinates).
    box_now: Option<[f32; 2]>,
    /// The selected segment's outline rings in image coordinates, for the session
    /// revision and segment they were traced from.
    selected_outline: Option<(OutlineKey, Vec<Vec<Point>>)>,
    /// A polygon, prompts or a stroke was in progress when this frame began.
    had_work_in_progress: bool,
}

/// (session revision, segment id) an outline was traced for.
type OutlineKey = (u64, u32);

/// The colour of the model's preview mask; no new class gets it
/// ([`crate::core::ontology::new_class_color`]).
pub const PREVIEW_COLOR: crate::core::ontology::Color = crate::core::ontology::Color([0, 230, 255]);

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            tool: Tool::Polygon,
            view: ViewTransform::default(),
            opacity: 0.5,
            outline_only: false,
            selected: None,
            drawing: Vec::new(),
            image: None,
            image_size: Vec2::ZERO,
            overlay: None,
            overlay_key: None,
            preview: None,
            preview_key: None,
            hidden: Default::default(),
            hidden_rev: 0,
            hole_mode: false,
            wand_tolerance: 30.0,
            snap: None,
            snap_key: None,
            dragging_vertex: None,
            brush_radius: 8.0,
            brush_mode: BrushMode::Overwrite,
            stroke_mask: None,
            stroke_path: Vec::new(),
            needs_fit: true,
            box_now: None,
            selected_outline: None,
            had_work_in_progress: false,
        }
    }
}

impl Canvas {
    /// Shows or hides a class in the overlay.
    pub fn set_hidden(&mut self, class: u32, hidden: bool) {
        let changed = if hidden {
            self.hidden.insert(class)
        } else {
            self.hidden.remove(&class)
        };
        if changed {
            self.hidden_rev += 1;
        }
    }

    /// Forgets per-image state when another image opens.
    pub fn reset_for_new_image(&mut self) {
        self.stroke_mask = None;
        self.stroke_path.clear();
        self.image = None;
        self.overlay = None;
        self.overlay_key = None;
        self.drawing.clear();
        self.selected = None;
        self.selected_outline = None;
        self.box_now = None;
        self.needs_fit = true;
    }

    /// Uploads a decoded image.
    pub fn set_image(
        &mut self,
        ctx: &egui::Context,
        size: [usize; 2],
        tiles: Vec<(usize, usize, egui::ColorImage)>,
    ) {
        self.image_size = Vec2::new(size[0] as f32, size[1] as f32);
        self.image = Some(TiledTexture::from_tiles(ctx, "image", size, tiles));
        self.needs_fit = true;
    }

    /// Whether an image is on screen.
    pub fn has_image(&self) -> bool {
        self.image.is_some()
    }

    /// Image-pixel rectangles of the image's texture tiles (empty before it is decoded).
    pub fn image_tiles(&self) -> Vec<egui::Rect> {
        self.image
            .as_ref()
            .map_or_else(Vec::new, TiledTexture::tile_rects)
    }

    fn refresh_overlay(
        &mut self,
        ctx: &egui::Context,
        session: &ImageSession,
        ontology: &Ontology,
    ) {
        let key = (session.revision, self.outline_only, self.hidden_rev);
        if self.overlay_key == Some(key) {
            return;
        }
        if session.doc.segments.is_empty() {
            // Nothing to draw: skip a full-size RGBA pass (1 GB for a 240 MP image).
            self.overlay = None;
            self.overlay_key = Some(key);
            return;
        }
        let map = &session.label_map;
        // Same view settings and the session knows what changed since: redraw only
        // that (one pixel more, for outlines), into the tiles it touches.
        if let (Some(ov), Some((rev, outline, hidden))) = (self.overlay.as_mut(), self.overlay_key)
            && (outline, hidden) == (self.outline_only, self.hidden_rev)
            && let Some(rect) = session.changed_since(rev)
        {
            let rect = rect.expand(1, map.width, map.height);
            if !rect.is_empty() {
                let colors = overlay_colors(&session.doc.segments, ontology, &self.hidden);
                // One image per tile it meets, handed over without another copy.
                for tile in ov.tile_rects() {
                    let t = PixelRect::new(
                        tile.min.x as u32,
                        tile.min.y as u32,
                        tile.max.x as u32,
                        tile.max.y as u32,
                    );
                    let part = t.intersect(rect);
                    if !part.is_empty() {
                        let img = overlay_image(map, &colors, self.outline_only, part);
                        ov.update(part.x0 as usize, part.y0 as usize, img);
                    }
                }
            }
            self.overlay_key = Some(key);
            return;
        }
        let colors = overlay_colors(&session.doc.segments, ontology, &self.hidden);
        let img = overlay_image(
            map,
            &colors,
            self.outline_only,
            PixelRect::full(map.width, map.height),
        );
        self.overlay = Some(TiledTexture::new(ctx, "overlay", &img));
        self.overlay_key = Some(key);
    }

    /// Draws the canvas and runs the active tool. Returns the edits the user made and
    /// messages for the user.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: CanvasContext<'_>,
        draft: &mut PromptDraft,
    ) -> CanvasOutput {
        let CanvasContext {
            session,
            ontology,
            active_class,
            loading,
            rgb,
            commands,
        } = cx;
        let mut out = CanvasOutput::default();
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let viewport = response.rect;
        painter.rect_filled(viewport, 0.0, Color32::from_gray(30));
        if self.image.is_none() {
            if loading {
                egui::Spinner::new().paint_at(
                    ui,
                    egui::Rect::from_center_size(viewport.center(), Vec2::splat(32.0)),
                );
            } else {
                painter.text(
                    viewport.center(),
                    egui::Align2::CENTER_CENTER,
                    "no image",
                    egui::FontId::proportional(18.0),
                    Color32::GRAY,
                );
            }
            return out;
        }
        let panning = self.view_input(ui, &response, commands);
        self.had_work_in_progress = !self.drawing.is_empty()
            || !draft.is_empty()
            || draft.preview.is_some()
            || self.stroke_mask.is_some();
        if let Some(texture) = &self.image {
            texture.paint(&painter, &self.view, Color32::WHITE);
        }
        if let Some(s) = session {
            self.refresh_overlay(ui.ctx(), s, ontology);
            if let Some(ov) = &self.overlay {
                let a = (self.opacity * 255.0).round() as u8;
                ov.paint(&painter, &self.view, Color32::from_white_alpha(a));
            }
        }

        self.draw_hover_info(&painter, &response, session, ontology);
        self.draw_selected_outline(&painter, session);
        self.draw_selected_mask_outline(&painter, session);

        // The snapping index (every vertex and edge) serves the polygon tool only: build
        // it when that tool is in use, not after every brush stroke.
        if let Some(s) = session
            && self.tool == Tool::Polygon
            && self.snap_key != Some(s.revision)
        {
            self.snap = Some(SnapIndex::build(&s.doc));
            self.snap_key = Some(s.revision);
        }
        if !panning {
            match self.tool {
                Tool::Select => {
                    if let Some(s) = session {
                        self.select_tool(&response, s, &mut out);
                    }
                }
                Tool::Wand => self.wand_tool(&response, session, rgb, active_class, &mut out),
                Tool::Polygon => self.polygon_tool(
                    &response,
                    commands,
                    session,
                    active_class,
                    &mut out.edits,
                    &mut out.messages,
                ),
                Tool::Click | Tool::Scribble | Tool::Box => {
                    self.prompt_tool(&response, ui, commands, draft, &mut out)
                }
                Tool::Brush | Tool::Eraser => {
                    self.brush_tool(&response, commands, session, active_class, &mut out)
                }
            }
        }
        // Esc with nothing in progress drops the selection (the tools' own Esc, for a
        // polygon or prompts in progress, ran above and left them empty).
        if commands.contains(&Command::Cancel) && !self.had_work_in_progress {
            self.selected = None;
        }
        self.draw_prompts(ui.ctx(), &painter, draft);
        if commands.contains(&Command::DeleteSegment)
            && let (Some(sel), Some(s)) = (self.selected, session)
            && let Some(e) = Edit::remove(&s.doc, sel)
        {
            out.edits.push(e);
            self.selected = None;
        }
        self.draw_in_progress(&painter, response.hover_pos());
        self.draw_brush(&painter, response.hover_pos());
        out
    }

    /// Fit / 1:1 / zoom commands, wheel and pinch zoom, middle- or space-drag pan.
    /// Returns true while the pointer pans (or space is held): tools then rest.
    fn view_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        commands: &[Command],
    ) -> bool {
        let viewport = response.rect;
        if self.needs_fit {
            self.view = ViewTransform::fit(self.image_size, viewport.shrink(8.0));
            self.needs_fit = false;
        }
        for c in commands {
            match c {
                Command::FitImage => {
                    self.view = ViewTransform::fit(self.image_size, viewport.shrink(8.0))
                }
                Command::ActualSize => {
                    self.view = ViewTransform::actual_size(self.image_size, viewport)
                }
                Command::ZoomIn => self.view.zoom_about(viewport.center(), 1.25),
                Command::ZoomOut => self.view.zoom_about(viewport.center(), 0.8),
                _ => {}
            }
        }
        // Zoom about the cursor, pan with middle-drag or space-drag.
        if let Some(hover) = response.hover_pos() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                self.view.zoom_about(hover, (scroll * 0.0025).exp());
            }
            let pinch = ui.input(|i| i.zoom_delta());
            if pinch != 1.0 {
                self.view.zoom_about(hover, pinch);
            }
        }
        let space = ui.input(|i| i.key_down(egui::Key::Space));
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (space && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            self.view.pan(response.drag_delta());
        }
        panning || space
    }

    /// Class, segment and pixel under the cursor, in the bottom-left corner.
    fn draw_hover_info(
        &self,
        painter: &egui::Painter,
        response: &egui::Response,
        session: Option<&ImageSession>,
        ontology: &Ontology,
    ) {
        let viewport = response.rect;
        let hover_in_image = response.hover_pos().map(|p| self.view.image_from_screen(p));
        if let (Some(p), Some(s)) = (hover_in_image, session)
            && let Some(id) = id_at(&s.label_map, p)
        {
            let text = match s.doc.segment(id) {
                Some(seg) => {
                    let class = ontology
                        .get(seg.category_id)
                        .map(|c| c.name.as_str())
                        .unwrap_or("?");
                    format!(
                        "{class} · segment #{id} · ({:.0}, {:.0})",
                        p.x.floor(),
                        p.y.floor()
                    )
                }
                None => String::new(),
            };
            painter.text(
                viewport.left_bottom() + Vec2::new(8.0, -8.0),
                egui::Align2::LEFT_BOTTOM,
                text,
                egui::FontId::proportional(14.0),
                Color32::WHITE,
            );
        }
    }

    /// The selected polygon's rings (with vertex handles in the Select tool).
    fn draw_selected_outline(&self, painter: &egui::Painter, session: Option<&ImageSession>) {
        if let (Some(sel), Some(s)) = (self.selected, session)
            && let Some(seg) = s.doc.segment(sel)
            && let Geometry::Polygons { polygons } = &seg.geometry
        {
            for (pi, poly) in polygons.iter().enumerate() {
                for (ri, ring) in poly.rings().enumerate() {
                    let pts: Vec<Pos2> = ring
                        .iter()
                        .enumerate()
                        .map(|(vi, v)| {
                            let v = match self.dragging_vertex {
                                Some((id, r, at))
                                    if id == sel
                                        && r == (VertexRef {
                                            polygon: pi,
                                            ring: ri,
                                            vertex: vi,
                                        }) =>
                                {
                                    at
                                }
                                _ => *v,
                            };
                            self.view
                                .screen_from_image(Pos2::new(v[0] as f32, v[1] as f32))
                        })
                        .collect();
                    if self.tool == Tool::Select {
                        for p in &pts {
                            painter.rect_filled(
                                egui::Rect::from_center_size(*p, Vec2::splat(5.0)),
                                0.0,
                                Color32::YELLOW,
                            );
                        }
                    }
                    painter.add(egui::Shape::closed_line(
                        pts,
                        Stroke::new(2.0, Color32::YELLOW),
                    ));
                }
            }
        }
    }

    /// The selected bitmap segment's outline: its pixel edges, traced once per edit of
    /// the image (within the segment's bounds) and kept.
    fn draw_selected_mask_outline(
        &mut self,
        painter: &egui::Painter,
        session: Option<&ImageSession>,
    ) {
        let (Some(sel), Some(s)) = (self.selected, session) else {
            return;
        };
        let Some(seg) = s
            .doc
            .segment(sel)
            .filter(|g| matches!(g.geometry, Geometry::Rle { .. }))
        else {
            return;
        };
        let key = (s.revision, sel);
        if self.selected_outline.as_ref().map(|(k, _)| *k) != Some(key) {
            let rings = mask_outline(seg, s.doc.image.width, s.doc.image.height);
            self.selected_outline = Some((key, rings));
        }
        if let Some((_, rings)) = &self.selected_outline {
            for ring in rings {
                let pts: Vec<Pos2> = ring
                    .iter()
                    .map(|v| {
                        self.view
                            .screen_from_image(Pos2::new(v[0] as f32, v[1] as f32))
                    })
                    .collect();
                painter.add(egui::Shape::closed_line(
                    pts,
                    Stroke::new(2.0, Color32::YELLOW),
                ));
            }
        }
    }

    /// The box being dragged: where it started and where it ends now (image coordinates).
    pub fn box_in_progress(&self, draft: &PromptDraft) -> Option<([f32; 2], [f32; 2])> {
        draft.box_start.zip(self.box_now)
    }

    /// The selected segment's outline rings (image coordinates) as drawn now, for tests.
    pub fn selected_outline(&self) -> Option<&[Vec<Point>]> {
        self.selected_outline.as_ref().map(|(_, r)| r.as_slice())
    }

    /// Click: a flood fill by colour tolerance becomes a new segment of the active class.
    fn wand_tool(
        &mut self,
        response: &egui::Response,
        session: Option<&ImageSession>,
        rgb: Option<&image::RgbImage>,
        active_class: Option<u32>,
        out: &mut CanvasOutput,
    ) {
        if response.clicked()
            && let (Some(p), Some(s), Some(img)) = (response.interact_pointer_pos(), session, rgb)
        {
            let q = self.view.image_from_screen(p);
            match active_class {
                None => out.messages.push(PICK_A_CLASS_FIRST.into()),
                Some(_) if q.x < 0.0 || q.y < 0.0 => {}
                Some(class) => {
                    let mask = crate::model::region::flood_fill(
                        img,
                        q.x as u32,
                        q.y as u32,
                        self.wand_tolerance,
                    );
                    if mask.area() > 0 {
                        let seg = Segment::new(
                            s.doc.next_segment_id(),
                            class,
                            Geometry::from_mask(&mask),
                            Source::Manual,
                        );
                        self.selected = Some(seg.id);
                        out.edits.push(Edit::add(seg));
                    }
                }
            }
        }
    }

    /// Click selects; on the selected polygon, drag a vertex to move it, double-click an
    /// edge to insert one, right-click a vertex to delete it.
    fn select_tool(&mut self, response: &egui::Response, s: &ImageSession, out: &mut CanvasOutput) {
        let Some(p) = response.interact_pointer_pos().or(response.hover_pos()) else {
            return;
        };
        let q = self.view.image_from_screen(p);
        let q = [f64::from(q.x), f64::from(q.y)];
        let grab = f64::from(SNAP_DISTANCE / self.view.scale);
        let selected = self.selected.and_then(|id| s.doc.segment(id));
        if response.drag_started()
            && let Some(seg) = selected
            && let Some(v) = polygon_edit::nearest_vertex(seg, q, grab)
        {
            self.dragging_vertex = Some((seg.id, v, q));
        }
        if let Some((id, v, _)) = self.dragging_vertex {
            if response.dragged() {
                self.dragging_vertex = Some((id, v, q));
            }
            if response.drag_stopped() {
                self.dragging_vertex = None;
                out.edits
                    .extend(polygon_edit::move_vertex(&s.doc, id, v, q));
            }
            return;
        }
        if response.double_clicked()
            && let Some(seg) = selected
            && let Some((after, at)) = polygon_edit::nearest_edge(seg, q, grab)
        {
            out.edits
                .extend(polygon_edit::insert_vertex(&s.doc, seg.id, after, at));
            return;
        }
        if response.secondary_clicked()
            && let Some(seg) = selected
            && let Some(v) = polygon_edit::nearest_vertex(seg, q, grab)
        {
            out.edits
                .extend(polygon_edit::delete_vertex(&s.doc, seg.id, v));
            return;
        }
        if response.clicked() {
            self.selected = id_at(&s.label_map, Pos2::new(q[0] as f32, q[1] as f32));
        }
    }

    fn brush_tool(
        &mut self,
        response: &egui::Response,
        commands: &[Command],
        session: Option<&ImageSession>,
        active_class: Option<u32>,
        out: &mut CanvasOutput,
    ) {
        let Some(s) = session else { return };
        for c in commands {
            match c {
                Command::BrushSmaller => self.brush_radius = (self.brush_radius / 1.25).max(0.5),
                Command::BrushLarger => self.brush_radius = (self.brush_radius * 1.25).min(500.0),
                _ => {}
            }
        }
        let (w, h) = (s.doc.image.width, s.doc.image.height);
        let pressed = response.dragged_by(egui::PointerButton::Primary) || response.clicked();
        if pressed && let Some(p) = response.interact_pointer_pos() {
            let q = self.view.image_from_screen(p);
            let q = [q.x, q.y];
            let from = self.stroke_path.last().copied().unwrap_or(q);
            let mask = self
                .stroke_mask
                .get_or_insert_with(|| crate::core::geometry::BitMask::new(w, h));
            stamp_line(mask, from, q, self.brush_radius);
            self.stroke_path.push(q);
        }
        if !(response.drag_stopped() || response.clicked()) {
            return;
        }
        self.stroke_path.clear();
        let Some(stroke) = self.stroke_mask.take() else {
            return;
        };
        let edit = if self.tool == Tool::Eraser {
            erase_edit(&s.doc, &stroke, self.selected)
        } else {
            let target = match (self.selected, active_class) {
                (Some(id), _) if s.doc.segment(id).is_some() => BrushTarget::Existing(id),
                (_, Some(c)) => BrushTarget::New { category_id: c },
                (None, None) => {
                    out.messages.push(PICK_A_CLASS_FIRST.into());
                    return;
                }
                (Some(_), None) => return,
            };
            if let BrushTarget::New { .. } = target {
                self.selected = Some(s.doc.next_segment_id());
            }
            brush_edit(&s.doc, &s.label_map, &stroke, target, self.brush_mode)
        };
        out.edits.extend(edit);
    }

    fn draw_brush(&self, painter: &egui::Painter, hover: Option<Pos2>) {
        if !matches!(self.tool, Tool::Brush | Tool::Eraser) {
            return;
        }
        let r = self.brush_radius * self.view.scale;
        let color = if self.tool == Tool::Eraser {
            Color32::from_rgba_unmultiplied(255, 255, 255, 90)
        } else {
            Color32::from_rgba_unmultiplied(255, 220, 0, 90)
        };
        let pts: Vec<Pos2> = self
            .stroke_path
            .iter()
            .map(|p| self.view.screen_from_image(Pos2::new(p[0], p[1])))
            .collect();
        if pts.len() > 1 {
            painter.add(egui::Shape::line(pts.clone(), Stroke::new(2.0 * r, color)));
        }
        for p in pts.first().into_iter().chain(pts.last()) {
            painter.circle_filled(*p, r, color);
        }
        if let Some(h) = hover {
            painter.circle_stroke(h, r, Stroke::new(1.0, Color32::WHITE));
        }
    }

    fn prompt_tool(
        &mut self,
        response: &egui::Response,
        ui: &egui::Ui,
        commands: &[Command],
        draft: &mut PromptDraft,
        out: &mut CanvasOutput,
    ) {
        let shift = ui.input(|i| i.modifiers.shift);
        let to_image = |p: Pos2| {
            let q = self.view.image_from_screen(p);
            [q.x, q.y]
        };
        match self.tool {
            Tool::Click => {
                if let Some(p) = response.interact_pointer_pos() {
                    let q = to_image(p);
                    if response.clicked() {
                        draft.click(q[0], q[1], !shift);
                        out.prompts_changed = true;
                    } else if response.secondary_clicked() {
                        draft.click(q[0], q[1], false);
                        out.prompts_changed = true;
                    }
                }
            }
            Tool::Scribble => {
                let secondary = response.dragged_by(egui::PointerButton::Secondary);
                if (response.dragged_by(egui::PointerButton::Primary) || secondary)
                    && let Some(p) = response.interact_pointer_pos()
                {
                    let q = to_image(p);
                    let stroke = draft.stroke.get_or_insert_with(|| crate::model::Stroke {
                        points: Vec::new(),
                        positive: !(shift || secondary),
                    });
                    let far = stroke
                        .points
                        .last()
                        .is_none_or(|l| (l[0] - q[0]).hypot(l[1] - q[1]) * self.view.scale >= 3.0);
                    if far {
                        stroke.points.push(q);
                    }
                }
                if response.drag_stopped()
                    && let Some(s) = draft.stroke.take()
                {
                    draft.prompts.strokes.push(s);
                    out.prompts_changed = true;
                }
            }
            Tool::Box => {
                // The box starts where the button went down, not where the drag was
                // recognised a few pixels later.
                if response.drag_started()
                    && let Some(p) = ui
                        .input(|i| i.pointer.press_origin())
                        .or(response.interact_pointer_pos())
                {
                    draft.box_start = Some(to_image(p));
                }
                self.box_now = draft
                    .box_start
                    .and(response.interact_pointer_pos())
                    .map(to_image);
                if response.drag_stopped()
                    && let (Some(a), Some(p)) =
                        (draft.box_start.take(), response.interact_pointer_pos())
                {
                    self.box_now = None;
                    let b = to_image(p);
                    if (a[0] - b[0]).abs() >= 2.0 && (a[1] - b[1]).abs() >= 2.0 {
                        draft.prompts.bbox = Some([
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[0].max(b[0]),
                            a[1].max(b[1]),
                        ]);
                        draft.prompts.previous = None;
                        out.prompts_changed = true;
                    }
                }
            }
            Tool::Select | Tool::Polygon | Tool::Brush | Tool::Eraser | Tool::Wand => {}
        }
        for c in commands {
            match c {
                Command::Confirm if draft.preview.is_some() => out.accept_prediction = true,
                Command::Cancel => {
                    *draft = PromptDraft::default();
                    self.preview_key = None;
                }
                Command::RemoveLast if !draft.is_empty() => {
                    draft.undo_last();
                    out.prompts_changed = true;
                }
                _ => {}
            }
        }
    }

    fn draw_prompts(&mut self, ctx: &egui::Context, painter: &egui::Painter, draft: &PromptDraft) {
        if let Some(mask) = &draft.preview {
            let key = draft.revision;
            if self.preview_key != Some(key) {
                let mut rgba = vec![0u8; mask.data.len() * 4];
                for (i, &v) in mask.data.iter().enumerate() {
                    if v != 0 {
                        let [r, g, b] = PREVIEW_COLOR.0;
                        rgba[i * 4..i * 4 + 4].copy_from_slice(&[r, g, b, 150]);
                    }
                }
                let img = egui::ColorImage::from_rgba_unmultiplied(
                    [mask.width as usize, mask.height as usize],
                    &rgba,
                );
                self.preview = Some(TiledTexture::new(ctx, "preview", &img));
                self.preview_key = Some(key);
            }
            if let Some(t) = &self.preview {
                t.paint(painter, &self.view, Color32::WHITE);
            }
        }
        let color = |positive: bool| {
            if positive {
                Color32::from_rgb(40, 220, 60)
            } else {
                Color32::from_rgb(240, 50, 50)
            }
        };
        let on_screen = |p: [f32; 2]| self.view.screen_from_image(Pos2::new(p[0], p[1]));
        for s in draft.prompts.strokes.iter().chain(draft.stroke.as_ref()) {
            let pts: Vec<Pos2> = s.points.iter().map(|p| on_screen(*p)).collect();
            painter.add(egui::Shape::line(pts, Stroke::new(3.0, color(s.positive))));
        }
        for c in &draft.prompts.clicks {
            let p = on_screen([c.x, c.y]);
            painter.circle(p, 5.0, color(c.positive), Stroke::new(1.5, Color32::WHITE));
        }
        // The box being dragged, then the box given.
        if let (Some(a), Some(b)) = (draft.box_start, self.box_now) {
            let r = egui::Rect::from_two_pos(on_screen(a), on_screen(b));
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(1.5, Color32::from_rgb(255, 200, 0)),
                egui::StrokeKind::Middle,
            );
        }
        if let Some(b) = draft.prompts.bbox {
            let r = egui::Rect::from_min_max(on_screen([b[0], b[1]]), on_screen([b[2], b[3]]));
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(2.0, Color32::from_rgb(255, 200, 0)),
                egui::StrokeKind::Middle,
            );
        }
    }

    fn polygon_tool(
        &mut self,
        response: &egui::Response,
        commands: &[Command],
        session: Option<&ImageSession>,
        active_class: Option<u32>,
        edits: &mut Vec<Edit>,
        messages: &mut Vec<String>,
    ) {
        let mut close = false;
        if response.clicked()
            && let Some(p) = response.interact_pointer_pos()
        {
            let near_first = self
                .drawing
                .first()
                .is_some_and(|f| (self.view.screen_from_image(*f) - p).length() < CLOSE_DISTANCE);
            if near_first && self.drawing.len() >= 3 {
                close = true;
            } else {
                let q = self.view.image_from_screen(p);
                let q = [f64::from(q.x), f64::from(q.y)];
                let max = f64::from(SNAP_DISTANCE / self.view.scale);
                let q = self.snap.as_ref().map(|i| i.snap(q, max)).unwrap_or(q);
                self.drawing.push(Pos2::new(q[0] as f32, q[1] as f32));
            }
        }
        for c in commands {
            match c {
                Command::Confirm => close = true,
                Command::RemoveLast => {
                    self.drawing.pop();
                }
                Command::Cancel => self.drawing.clear(),
                _ => {}
            }
        }
        if !close || self.drawing.len() < 3 {
            return;
        }
        let Some(s) = session else { return };
        let ring: Vec<Point> = self
            .drawing
            .iter()
            .map(|p| [f64::from(p.x), f64::from(p.y)])
            .collect();
        if self.hole_mode {
            let hole = self
                .selected
                .and_then(|id| polygon_edit::add_hole(&s.doc, id, ring));
            match hole {
                Some(e) => {
                    edits.push(e);
                    self.drawing.clear();
                    // One hole at a time: the next polygon is a segment again.
                    self.hole_mode = false;
                }
                None => messages.push(
                    "Hole mode: select a polygon segment and start the hole inside it".into(),
                ),
            }
            return;
        }
        let Some(class) = active_class else {
            messages.push(PICK_A_CLASS_FIRST.into());
            return;
        };
        self.drawing.clear();
        let outer = ring;
        let geometry = Geometry::Polygons {
            polygons: vec![PolygonWithHoles {
                outer,
                holes: vec![],
            }],
        };
        let seg = Segment::new(s.doc.next_segment_id(), class, geometry, Source::Polygon);
        self.selected = Some(seg.id);
        edits.push(Edit::add(seg));
    }

    fn draw_in_progress(&self, painter: &egui::Painter, hover: Option<Pos2>) {
        if self.drawing.is_empty() {
            return;
        }
        let mut pts: Vec<Pos2> = self
            .drawing
            .iter()
            .map(|p| self.view.screen_from_image(*p))
            .collect();
        for p in &pts {
            painter.circle_filled(*p, 3.0, Color32::WHITE);
        }
        if let Some(h) = hover {
            pts.push(h);
        }
        painter.add(egui::Shape::line(pts, Stroke::new(1.5, Color32::WHITE)));
    }
}

/// The pixel-edge rings of a bitmap segment, traced in its bounds.
fn mask_outline(seg: &Segment, w: u32, h: u32) -> Vec<Vec<Point>> {
    let Ok(mask) = seg.geometry.to_mask(w, h) else {
        return Vec::new();
    };
    let b = mask.bounds();
    if b.is_empty() {
        return Vec::new();
    }
    let local = crate::core::geometry::BitMask {
        width: b.width(),
        height: b.height(),
        data: mask.crop(b),
    };
    let v = crate::core::vectorize::vectorize(&local, crate::core::vectorize::Vectorize::Exact);
    v.polygons
        .iter()
        .flat_map(|p| p.rings())
        .map(|r| {
            r.iter()
                .map(|q| [q[0] + f64::from(b.x0), q[1] + f64::from(b.y0)])
                .collect()
        })
        .collect()
}

/// Segment id under an image position, if any.
fn id_at(map: &LabelMap, p: Pos2) -> Option<u32> {
    if p.x < 0.0 || p.y < 0.0 {
        return None;
    }
    let (x, y) = (p.x.floor() as u32, p.y.floor() as u32);
    (x < map.width && y < map.height)
        .then(|| map.at(x, y))
        .filter(|&id| id != 0)
}

/// Each shown segment's overlay colour: class color, with a per-instance shade for things.
fn overlay_colors(
    segments: &[Segment],
    ontology: &Ontology,
    hidden: &std::collections::BTreeSet<u32>,
) -> std::collections::HashMap<u32, Color32> {
    segments
        .iter()
        .filter(|s| !hidden.contains(&s.category_id))
        .map(|s| {
            let c = ontology.get(s.category_id);
            let [r, g, b] = c.map(|c| c.color.0).unwrap_or([255, 0, 255]);
            let shade = if c.is_some_and(|c| c.isthing) {
                (s.id % 5) as i32 * 14 - 28
            } else {
                0
            };
            let f = |v: u8| (i32::from(v) + shade).clamp(0, 255) as u8;
            (s.id, Color32::from_rgb(f(r), f(g), f(b)))
        })
        .collect()
}

/// The colour of a segment's pixels that touch another shown segment.
fn instance_edge(c: Color32) -> Color32 {
    let f = |v: u8| (u16::from(v) * 9 / 20) as u8;
    Color32::from_rgb(f(c.r()), f(c.g()), f(c.b()))
}

/// Colors `rect` of the resolved map with `colors` (ids without one stay transparent);
/// in fill mode, pixels where two shown segments meet are darker ([`instance_edge`]).
fn overlay_image(
    map: &LabelMap,
    colors: &std::collections::HashMap<u32, Color32>,
    outline_only: bool,
    rect: PixelRect,
) -> egui::ColorImage {
    let (w, h) = (map.width as usize, map.height as usize);
    let rect = rect.intersect(PixelRect::full(map.width, map.height));
    let (rx, ry) = (rect.x0 as usize, rect.y0 as usize);
    let (rw, rh) = (rect.width() as usize, rect.height() as usize);
    let mut pixels = vec![Color32::TRANSPARENT; rw * rh];
    for y in ry..ry + rh {
        let row = &map.ids[y * w + rx..y * w + rx + rw];
        let out = &mut pixels[(y - ry) * rw..(y - ry + 1) * rw];
        // Runs of one id share one colour lookup.
        let mut x = 0;
        while x < rw {
            let (id, start) = (row[x], x);
            while x < rw && row[x] == id {
                x += 1;
            }
            let Some(&c) = colors.get(&id).filter(|_| id != 0) else {
                continue;
            };
            if !outline_only {
                out[start..x].fill(c);
                // Where two shown segments touch, a darker edge: instances of one class
                // (fourteen persons in a row) stay apart.
                let dark = instance_edge(c);
                let other = |nx: usize, ny: usize| {
                    let n = map.ids[ny * w + nx];
                    n != 0 && n != id && colors.contains_key(&n)
                };
                for (i, px) in out.iter_mut().enumerate().take(x).skip(start) {
                    let ix = rx + i;
                    if (ix > 0 && other(ix - 1, y))
                        || (ix + 1 < w && other(ix + 1, y))
                        || (y > 0 && other(ix, y - 1))
                        || (y + 1 < h && other(ix, y + 1))
                    {
                        *px = dark;
                    }
                }
                continue;
            }
            for (i, px) in out.iter_mut().enumerate().take(x).skip(start) {
                let (ix, iy) = (rx + i, y);
                let same = |dx: i64, dy: i64| {
                    let (nx, ny) = (ix as i64 + dx, iy as i64 + dy);
                    nx < 0
                        || ny < 0
                        || nx >= w as i64
                        || ny >= h as i64
                        || map.ids[ny as usize * w + nx as usize] == id
                };
                if !(same(1, 0) && same(-1, 0) && same(0, 1) && same(0, -1)) {
                    *px = c;
                }
            }
        }
    }
    egui::ColorImage::new([rw, rh], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ontology::Color;

    /// The overlay a region update writes equals that region of a full rebuild, in
    /// both fill and outline modes.
    #[test]
    fn region_overlay_equals_the_full_overlay_there() {
        let mut o = Ontology::default();
        let a = o.add("a", Color([200, 40, 40]), true).unwrap();
        let b = o.add("b", Color([40, 200, 40]), false).unwrap();
        let mut map = LabelMap::new(23, 17);
        for (i, v) in map.ids.iter_mut().enumerate() {
            *v = [0, 1, 2, 2, 3][(i * 7 / 5 + i / 23) % 5];
        }
        let seg = |id, c| {
            Segment::new(
                id,
                c,
                Geometry::Polygons { polygons: vec![] },
                Source::Polygon,
            )
        };
        let segs = vec![seg(1, a), seg(2, b), seg(3, a)];
        let hidden: std::collections::BTreeSet<u32> = [b].into();
        let colors = overlay_colors(&segs, &o, &hidden);
        for outline in [false, true] {
            let full = overlay_image(&map, &colors, outline, PixelRect::full(23, 17));
            let r = PixelRect::new(3, 4, 15, 9);
            let part = overlay_image(&map, &colors, outline, r);
            assert_eq!(part.size, [12, 5]);
            for y in r.y0..r.y1 {
                for x in r.x0..r.x1 {
                    let (x, y) = (x as usize, y as usize);
                    assert_eq!(part.pixels[(y - 4) * 12 + x - 3], full.pixels[y * 23 + x]);
                }
            }
            // The colours of the byte-per-channel build it replaced.
            for (i, &id) in map.ids.iter().enumerate() {
                let c = segs
                    .iter()
                    .find(|s| s.id == id && !hidden.contains(&s.category_id))
                    .map(|s| {
                        let class = o.get(s.category_id).unwrap();
                        let shade = if class.isthing {
                            (id % 5) as i32 * 14 - 28
                        } else {
                            0
                        };
                        let f = |v: u8| (i32::from(v) + shade).clamp(0, 255) as u8;
                        let [r, g, b] = class.color.0;
                        Color32::from_rgba_unmultiplied(f(r), f(g), f(b), 255)
                    });
                let p = full.pixels[i];
                let (x, y) = (i % 23, i / 23);
                let shown = |n: u32| n != 0 && n != id && colors.contains_key(&n);
                let touches = (x > 0 && shown(map.ids[i - 1]))
                    || (x + 1 < 23 && shown(map.ids[i + 1]))
                    || (y > 0 && shown(map.ids[i - 23]))
                    || (y + 1 < 17 && shown(map.ids[i + 23]));
                match c {
                    Some(c) if outline => assert!(p == c || p == Color32::TRANSPARENT),
                    Some(c) if touches => assert_eq!(p, instance_edge(c), "pixel {i}"),
                    Some(c) => assert_eq!(p, c, "pixel {i}"),
                    None => assert_eq!(p, Color32::TRANSPARENT),
                }
            }
            assert!(full.pixels.contains(&Color32::TRANSPARENT));
            assert!(full.pixels.iter().any(|p| p.a() == 255));
        }
    }
}
