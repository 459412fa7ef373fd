//! Every command of the app in one place: its label, help text, shortcuts and group.
//! Key handling, menus, toolbar tooltips and the help overlay all read this table, so a
//! shortcut is defined once and two commands cannot quietly share one.

use egui::{Key, Modifiers};

use super::canvas::Tool;

/// Which modifiers a shortcut needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mods {
    /// Exactly these (Ctrl is Cmd on macOS).
    Exactly(Modifiers),
    /// Any: the key works with or without modifiers (keys that need Shift on some
    /// layouts, and keys that have no modified meaning here).
    Any,
}

/// One key combination of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortcut {
    pub mods: Mods,
    pub key: Key,
}

impl Shortcut {
    /// The key alone.
    const fn plain(key: Key) -> Self {
        Shortcut {
            mods: Mods::Exactly(Modifiers::NONE),
            key,
        }
    }

    /// The key with any modifiers.
    const fn any(key: Key) -> Self {
        Shortcut {
            mods: Mods::Any,
            key,
        }
    }

    const fn with(mods: Modifiers, key: Key) -> Self {
        Shortcut {
            mods: Mods::Exactly(mods),
            key,
        }
    }

    /// True when `key` pressed with `modifiers` triggers this shortcut.
    pub fn matches(self, key: Key, modifiers: Modifiers) -> bool {
        key == self.key
            && match self.mods {
                Mods::Any => true,
                Mods::Exactly(m) => modifiers.matches_exact(m),
            }
    }

    /// True when one key press could trigger both.
    pub fn overlaps(self, other: Shortcut) -> bool {
        self.key == other.key
            && match (self.mods, other.mods) {
                (Mods::Exactly(a), Mods::Exactly(b)) => a == b,
                _ => true,
            }
    }

    /// As the user reads it: `Ctrl+Shift+Z`, `PageDown`, `?`.
    pub fn text(self) -> String {
        let mut s = String::new();
        if let Mods::Exactly(m) = self.mods {
            if m.command || m.ctrl {
                s.push_str(if cfg!(target_os = "macos") {
                    "Cmd+"
                } else {
                    "Ctrl+"
                });
            }
            if m.alt {
                s.push_str("Alt+");
            }
            if m.shift {
                s.push_str("Shift+");
            }
        }
        s.push_str(self.key.symbol_or_name());
        s
    }
}

/// Groups of the help overlay, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Images,
    Edit,
    View,
    Tools,
    Drawing,
    Review,
    Help,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::Images,
        Group::Edit,
        Group::View,
        Group::Tools,
        Group::Drawing,
        Group::Review,
        Group::Help,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Group::Images => "Images",
            Group::Edit => "Edit",
            Group::View => "View",
            Group::Tools => "Tools",
            Group::Drawing => "Drawing",
            Group::Review => "Review",
            Group::Help => "Help",
        }
    }
}

/// Declares [`Command`] and [`Command::ALL`] together, so no command can be left out
/// of the list the help overlay and the clash test walk.
macro_rules! commands {
    ($($(#[$doc:meta])* $variant:ident),* $(,)?) => {
        /// A user command: what a key, a menu item or a toolbar button asks for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command {
            $($(#[$doc])* $variant),*
        }

        impl Command {
            /// Every command, in help-overlay order.
            pub const ALL: &[Command] = &[$(Command::$variant),*];
        }
    };
}

commands! {
    NextImage,
    PreviousImage,
    /// Pick one of the first nine classes; the digit is the shortcut's position.
    PickClass,
    /// Focus the class filter: type a name or id, Up / Down, Enter picks.
    FindClass,
    Undo,
    Redo,
    DeleteSegment,
    ZoomIn,
    ZoomOut,
    FitImage,
    ActualSize,
    SelectTool,
    PolygonTool,
    BrushTool,
    EraserTool,
    WandTool,
    ClickTool,
    ScribbleTool,
    BoxTool,
    /// Close the polygon, or accept the model's mask.
    Confirm,
    /// Remove the last vertex or prompt.
    RemoveLast,
    /// Cancel the polygon or prompts in progress.
    Cancel,
    BrushSmaller,
    BrushLarger,
    ToggleHoleMode,
    ToggleReviewMode,
    AcceptImage,
    RejectImage,
    PinComment,
    ToggleDisagreement,
    NextWorstSegment,
    NextSuspect,
    ToggleHelp,
}

const DIGITS: [Shortcut; 9] = [
    Shortcut::plain(Key::Num1),
    Shortcut::plain(Key::Num2),
    Shortcut::plain(Key::Num3),
    Shortcut::plain(Key::Num4),
    Shortcut::plain(Key::Num5),
    Shortcut::plain(Key::Num6),
    Shortcut::plain(Key::Num7),
    Shortcut::plain(Key::Num8),
    Shortcut::plain(Key::Num9),
];

impl Command {
    /// The command that picks `tool`.
    pub fn for_tool(tool: Tool) -> Command {
        match tool {
            Tool::Select => Command::SelectTool,
            Tool::Polygon => Command::PolygonTool,
            Tool::Brush => Command::BrushTool,
            Tool::Eraser => Command::EraserTool,
            Tool::Wand => Command::WandTool,
            Tool::Click => Command::ClickTool,
            Tool::Scribble => Command::ScribbleTool,
            Tool::Box => Command::BoxTool,
        }
    }

    /// The tool this command picks, if it is a tool command.
    pub fn tool(self) -> Option<Tool> {
        Tool::ALL
            .into_iter()
            .find(|&t| Command::for_tool(t) == self)
    }

    /// Key combinations, the first one shown in tooltips.
    pub fn shortcuts(self) -> &'static [Shortcut] {
        use Shortcut as S;
        // A const per arm: `const fn` calls are not promoted to 'static by `&[..]`.
        macro_rules! keys {
            ($($k:expr),* $(,)?) => {{
                const KEYS: &[Shortcut] = &[$($k),*];
                KEYS
            }};
        }
        const CMD: Modifiers = Modifiers::COMMAND;
        const CMD_SHIFT: Modifiers = Modifiers::COMMAND.plus(Modifiers::SHIFT);
        match self {
            Command::NextImage => keys![S::plain(Key::D), S::plain(Key::PageDown)],
            Command::PreviousImage => keys![S::plain(Key::A), S::plain(Key::PageUp)],
            Command::PickClass => &DIGITS,
            Command::FindClass => keys![S::plain(Key::Slash)],
            Command::Undo => keys![S::with(CMD, Key::Z)],
            Command::Redo => keys![S::with(CMD_SHIFT, Key::Z), S::with(CMD, Key::Y)],
            Command::DeleteSegment => keys![S::any(Key::Delete)],
            Command::ZoomIn => keys![S::any(Key::Plus), S::any(Key::Equals)],
            Command::ZoomOut => keys![S::any(Key::Minus)],
            Command::FitImage => keys![S::any(Key::F)],
            Command::ActualSize => keys![S::plain(Key::Num0)],
            Command::SelectTool => keys![S::plain(Key::V)],
            Command::PolygonTool => keys![S::plain(Key::P)],
            Command::BrushTool => keys![S::plain(Key::B)],
            Command::EraserTool => keys![S::plain(Key::E)],
            Command::WandTool => keys![S::plain(Key::W)],
            Command::ClickTool => keys![S::plain(Key::C)],
            Command::ScribbleTool => keys![S::plain(Key::S)],
            Command::BoxTool => keys![S::plain(Key::X)],
            Command::Confirm => keys![S::any(Key::Enter)],
            Command::RemoveLast => keys![S::any(Key::Backspace)],
            Command::Cancel => keys![S::any(Key::Escape)],
            Command::BrushSmaller => keys![S::any(Key::OpenBracket)],
            Command::BrushLarger => keys![S::any(Key::CloseBracket)],
            Command::ToggleHoleMode => keys![S::plain(Key::H)],
            Command::ToggleReviewMode => keys![S::plain(Key::R)],
            Command::AcceptImage => keys![S::plain(Key::Y)],
            Command::RejectImage => keys![S::plain(Key::N)],
            Command::PinComment => keys![S::plain(Key::M)],
            Command::ToggleDisagreement => keys![S::plain(Key::G)],
            Command::NextWorstSegment => keys![S::plain(Key::J)],
            Command::NextSuspect => keys![S::plain(Key::K)],
            Command::ToggleHelp => keys![
                S::plain(Key::Questionmark),
                S::with(Modifiers::SHIFT, Key::Slash),
            ],
        }
    }

    /// Short name, for menus and buttons.
    pub fn label(self) -> &'static str {
        match self {
            Command::NextImage => "Next image",
            Command::PreviousImage => "Previous image",
            Command::PickClass => "Pick class",
            Command::FindClass => "Find class",
            Command::Undo => "Undo",
            Command::Redo => "Redo",
            Command::DeleteSegment => "Delete segment",
            Command::ZoomIn => "Zoom in",
            Command::ZoomOut => "Zoom out",
            Command::FitImage => "Fit image",
            Command::ActualSize => "1:1",
            Command::Confirm => "Close / accept",
            Command::RemoveLast => "Remove last",
            Command::Cancel => "Cancel",
            Command::BrushSmaller => "Smaller brush",
            Command::BrushLarger => "Larger brush",
            Command::ToggleHoleMode => "Hole mode",
            Command::ToggleReviewMode => "Review mode",
            Command::AcceptImage => "Accept",
            Command::RejectImage => "Reject…",
            Command::PinComment => "Pin comment",
            Command::ToggleDisagreement => "Show disagreement",
            Command::NextWorstSegment => "Next worst segment",
            Command::NextSuspect => "Next label suspect",
            Command::ToggleHelp => "Shortcuts",
            // Tool commands: the tool's own name.
            _ => self.tool().map_or("", Tool::label),
        }
    }

    /// What it does, for the help overlay and tooltips.
    pub fn help(self) -> &'static str {
        match self {
            Command::NextImage => "next image",
            Command::PreviousImage => "previous image",
            Command::PickClass => "pick the 1st … 9th class of the class list",
            Command::FindClass => "find a class: type its name or id, Up / Down, Enter picks",
            Command::Undo => "undo",
            Command::Redo => "redo",
            Command::DeleteSegment => "delete the selected segment",
            Command::ZoomIn => "zoom in about the centre",
            Command::ZoomOut => "zoom out about the centre",
            Command::FitImage => "fit the image to the window",
            Command::ActualSize => "show the image 1:1",
            Command::Confirm => "close the polygon / accept the model's mask",
            Command::RemoveLast => "remove the last vertex / prompt",
            Command::Cancel => "cancel drawing / prompts",
            Command::BrushSmaller => "smaller brush",
            Command::BrushLarger => "larger brush",
            Command::ToggleHoleMode => "polygon: draw the next polygon as a hole",
            Command::ToggleReviewMode => "review mode: walk the images marked done",
            Command::AcceptImage => "review mode: accept the image",
            Command::RejectImage => "review mode: reject the image with a reason",
            Command::PinComment => "pin a comment at the cursor",
            Command::ToggleDisagreement => "show / hide disagreement with gold labels",
            Command::NextWorstSegment => "jump to the next worst segment vs gold",
            Command::NextSuspect => {
                "jump to the next segment the click model disagrees with (Review > Find label suspects)"
            }
            Command::ToggleHelp => "this help",
            _ => self.tool().map_or("", Tool::help),
        }
    }

    pub fn group(self) -> Group {
        match self {
            Command::NextImage
            | Command::PreviousImage
            | Command::PickClass
            | Command::FindClass => Group::Images,
            Command::Undo | Command::Redo | Command::DeleteSegment => Group::Edit,
            Command::ZoomIn | Command::ZoomOut | Command::FitImage | Command::ActualSize => {
                Group::View
            }
            Command::Confirm
            | Command::RemoveLast
            | Command::Cancel
            | Command::BrushSmaller
            | Command::BrushLarger
            | Command::ToggleHoleMode => Group::Drawing,
            Command::ToggleReviewMode
            | Command::AcceptImage
            | Command::RejectImage
            | Command::PinComment
            | Command::ToggleDisagreement
            | Command::NextWorstSegment
            | Command::NextSuspect => Group::Review,
            Command::ToggleHelp => Group::Help,
            _ => Group::Tools,
        }
    }

    /// Every shortcut as the help overlay shows it: `Ctrl+Shift+Z / Ctrl+Y`; the
    /// digits of [`Command::PickClass`] as a range.
    pub fn shortcut_text(self) -> String {
        let s = self.shortcuts();
        if s.len() > 2 {
            return format!("{} … {}", s[0].text(), s[s.len() - 1].text());
        }
        s.iter().map(|s| s.text()).collect::<Vec<_>>().join(" / ")
    }

    /// Tooltip: the help text and the first shortcut, `Undo (Ctrl+Z)`.
    pub fn tooltip(self) -> String {
        match self.shortcuts().first() {
            Some(s) => format!("{} ({})", capitalized(self.help()), s.text()),
            None => capitalized(self.help()),
        }
    }

    /// The commands whose shortcuts were pressed this frame, each with the index of the
    /// shortcut that matched (the digit of [`Command::PickClass`]).
    pub fn pressed(input: &egui::InputState) -> Vec<(Command, usize)> {
        let mut out = Vec::new();
        for e in &input.events {
            let egui::Event::Key {
                key,
                pressed: true,
                modifiers,
                ..
            } = e
            else {
                continue;
            };
            for &c in Command::ALL {
                if let Some(i) = c
                    .shortcuts()
                    .iter()
                    .position(|s| s.matches(*key, *modifiers))
                {
                    out.push((c, i));
                }
            }
        }
        out
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Mouse gestures the help overlay lists beside the commands (they are not commands:
/// the canvas reads them from the pointer).
pub const GESTURES: &[(&str, &str)] = &[
    ("Wheel / pinch", "zoom about the cursor"),
    ("Space-drag / middle-drag", "pan"),
    (
        "Select, then C / S / X",
        "refine a segment: prompts start from its mask",
    ),
    (
        "Select: drag vertex",
        "move it; double-click an edge inserts, right-click deletes",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_commands_share_a_shortcut() {
        let all: Vec<(Command, Shortcut)> = Command::ALL
            .iter()
            .flat_map(|&c| c.shortcuts().iter().map(move |&s| (c, s)))
            .collect();
        for (i, (a, sa)) in all.iter().enumerate() {
            for (b, sb) in &all[i + 1..] {
                assert!(
                    !sa.overlaps(*sb),
                    "{a:?} and {b:?} both answer {} / {}",
                    sa.text(),
                    sb.text()
                );
            }
        }
    }

    #[test]
    fn the_clash_check_sees_a_clash() {
        let z = Shortcut::with(Modifiers::COMMAND, Key::Z);
        assert!(z.overlaps(Shortcut::with(Modifiers::COMMAND, Key::Z)));
        assert!(z.overlaps(Shortcut::any(Key::Z)));
        assert!(!z.overlaps(Shortcut::with(
            Modifiers::COMMAND | Modifiers::SHIFT,
            Key::Z
        )));
        assert!(!z.overlaps(Shortcut::plain(Key::Z)));
    }

    #[test]
    fn every_command_has_text_a_shortcut_and_each_tool_one_command() {
        for &c in Command::ALL {
            assert!(!c.label().is_empty() && !c.help().is_empty(), "{c:?}");
            assert!(!c.shortcuts().is_empty(), "{c:?} has no shortcut");
        }
        for t in Tool::ALL {
            assert_eq!(Command::for_tool(t).tool(), Some(t));
        }
        assert_eq!(Command::PickClass.shortcut_text(), "1 … 9");
        assert_eq!(
            Command::Undo.tooltip(),
            format!("Undo ({})", Command::Undo.shortcuts()[0].text())
        );
    }

    #[test]
    fn matching_respects_modifiers() {
        let ctrl = Modifiers::COMMAND;
        let redo = Command::Redo.shortcuts();
        assert!(redo[0].matches(Key::Z, ctrl | Modifiers::SHIFT));
        assert!(!Command::Undo.shortcuts()[0].matches(Key::Z, ctrl | Modifiers::SHIFT));
        assert!(Command::FitImage.shortcuts()[0].matches(Key::F, Modifiers::SHIFT));
        assert!(!Command::SelectTool.shortcuts()[0].matches(Key::V, ctrl));
    }
}
