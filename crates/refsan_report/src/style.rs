//! Terminal colours of the text output. With colour off, painting is the
//! identity: no escape byte ever reaches the output.

use anstyle::{AnsiColor, Effects, Style};
use refsan_ir::Severity;

/// What a piece of text is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Severity(Severity),
    /// The per-file "error:" of a file that could not be checked.
    FileError,
    Note,
    /// The finding's headline message.
    Message,
    /// Line-number gutter, `|`, `-->`, `=`.
    Gutter,
    /// Event numbers in the path.
    EventNumber,
    /// The closing summary line.
    Summary,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Palette {
    color: bool,
}

impl Palette {
    pub(crate) fn new(color: bool) -> Palette {
        Palette { color }
    }

    pub(crate) fn paint(&self, role: Role, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let style = style_of(role);
        format!("{style}{text}{style:#}")
    }
}

fn style_of(role: Role) -> Style {
    let colored = |color: AnsiColor| Style::new().fg_color(Some(color.into()));
    match role {
        Role::Severity(Severity::Error) | Role::FileError => colored(AnsiColor::Red).bold(),
        Role::Severity(Severity::Warning) => colored(AnsiColor::Yellow).bold(),
        Role::Severity(Severity::Info) => colored(AnsiColor::Cyan).bold(),
        Role::Note => colored(AnsiColor::Green).bold(),
        Role::Message | Role::EventNumber | Role::Summary => Style::new().bold(),
        Role::Gutter => Style::new().effects(Effects::DIMMED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escapes_without_colour() {
        let plain = Palette::new(false);
        assert_eq!(
            plain.paint(Role::Severity(Severity::Error), "error"),
            "error"
        );
    }

    #[test]
    fn colour_wraps_in_escape_and_reset() {
        let painted = Palette::new(true).paint(Role::Severity(Severity::Error), "error");
        assert!(painted.starts_with('\x1b'));
        assert!(painted.contains("error"));
        assert!(painted.ends_with("\x1b[0m"));
    }
}
