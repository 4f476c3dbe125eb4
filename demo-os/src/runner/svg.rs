//! Pictures of a comparison (`--mode compare --svg FILE`): horizontal bar
//! charts in one self-contained SVG file, readable in any browser. Each
//! panel has a title and one bar per item, its length proportional to the
//! largest value of the panel, its value written at its end; an item may
//! carry a series (native, full, para), which picks its colour and is
//! named in the legend. Text is escaped; nothing is read back.

use std::fmt::Write as _;

/// One bar: its label, its series, its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    /// What it counts (`exits: cop_unusable`).
    pub label: String,
    /// Which run it belongs to (`full`).
    pub series: &'static str,
    /// The value.
    pub value: u64,
}

/// A panel of bars under a title.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panel {
    /// The title.
    pub title: String,
    /// The bars, top to bottom.
    pub bars: Vec<Bar>,
}

/// The series' colours (colour-blind safe), by name.
const COLOURS: [(&str, &str); 3] = [
    ("native", "#0072b2"),
    ("full", "#d55e00"),
    ("para", "#009e73"),
];

const WIDTH: u32 = 900;
const LABEL_W: u32 = 300;
const BAR_H: u32 = 18;
const GAP: u32 = 6;
const TITLE_H: u32 = 34;

fn colour(series: &str) -> &'static str {
    COLOURS
        .iter()
        .find(|(s, _)| *s == series)
        .map_or("#777777", |&(_, c)| c)
}

/// `s` fit for SVG text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The SVG document of `panels` under `title`.
pub fn render(title: &str, panels: &[Panel]) -> String {
    let mut body = String::new();
    let mut y = 50;
    for p in panels {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{}" font-size="16" font-weight="bold">{}</text>"#,
            y + 20,
            escape(&p.title)
        );
        y += TITLE_H;
        let max = p.bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
        let room = WIDTH - LABEL_W - 110;
        for b in &p.bars {
            let w = ((b.value as f64 / max as f64) * f64::from(room)).round() as u32;
            let _ = writeln!(
                body,
                r#"<g class="bar" data-series="{s}" data-label="{l}" data-value="{v}"><text x="{lx}" y="{ty}" font-size="12" text-anchor="end">{l}</text><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"/><text x="{vx}" y="{ty}" font-size="12">{v}</text></g>"#,
                s = b.series,
                l = escape(&b.label),
                v = b.value,
                lx = LABEL_W - 8,
                ty = y + BAR_H - 4,
                x = LABEL_W,
                y = y,
                w = w.max(1),
                h = BAR_H,
                c = colour(b.series),
                vx = LABEL_W + w.max(1) + 6,
            );
            y += BAR_H + GAP;
        }
        y += GAP * 2;
    }
    let mut legend = String::new();
    for (i, (name, c)) in COLOURS.iter().enumerate() {
        let x = LABEL_W + 130 * i as u32;
        let _ = write!(
            legend,
            r#"<rect x="{x}" y="28" width="14" height="14" fill="{c}"/><text x="{}" y="40" font-size="13">{name}</text>"#,
            x + 20
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="18" font-weight="bold">{t}</text>
{legend}
{body}</svg>
"#,
        h = y + 10,
        t = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_labelled_and_escaped() {
        let svg = render(
            "a <test>",
            &[Panel {
                title: "cycles".into(),
                bars: vec![
                    Bar {
                        label: "native".into(),
                        series: "native",
                        value: 50,
                    },
                    Bar {
                        label: "full & more".into(),
                        series: "full",
                        value: 100,
                    },
                ],
            }],
        );
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;test&gt;"));
        assert!(svg.contains(r#"data-label="full &amp; more" data-value="100""#));
        // The largest bar takes the whole room, half the value half of it.
        let room = WIDTH - LABEL_W - 110;
        assert!(svg.contains(&format!(r#"width="{room}""#)));
        assert!(svg.contains(&format!(r#"width="{}""#, room / 2)));
    }
}
