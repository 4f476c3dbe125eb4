//! Pictures: a comparison (`--mode compare --svg FILE`) as horizontal bar
//! charts, and the VMs of a run over virtual time (`--timeline FILE`),
//! each one self-contained SVG file, readable in any browser. Each
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

/// Colours of exit reasons (cycled).
const REASON_COLOURS: [&str; 8] = [
    "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#d55e00", "#cc79a7", "#000000", "#882255",
];

/// The timeline picture (`--timeline`): per VM a strip of the CPU over
/// virtual time (dark: it held the CPU; light: idle; blank: another VM
/// had it) and below it its exits by reason per bucket, stacked.
pub fn timeline(title: &str, t: &hv_host::monitor::timeline::Timeline) -> String {
    use hv_host::monitor::stats::ExitReason;
    let buckets = t.vms().iter().map(Vec::len).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - 90;
    let bw = f64::from(plot_w) / buckets as f64;
    let size = t.bucket_ticks();
    let strip_h = 30.0;
    let exits_h = 60.0;
    let max_exits = t
        .vms()
        .iter()
        .flatten()
        .map(|b| b.exits.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let used: Vec<ExitReason> = ExitReason::ALL
        .iter()
        .copied()
        .filter(|&r| t.vms().iter().flatten().any(|b| b.exits[r as usize] > 0))
        .collect();
    let colour_of = |r: ExitReason| {
        let i = used.iter().position(|&u| u == r).unwrap_or(0);
        REASON_COLOURS[i % REASON_COLOURS.len()]
    };
    let mut body = String::new();
    let legend_rows = used.len().div_ceil(7) as f64;
    let mut y = 60.0 + legend_rows * 20.0;
    for (vm, bs) in t.vms().iter().enumerate() {
        let _ = writeln!(
            body,
            r#"<g class="vm" data-vm="{vm}"><text x="10" y="{:.0}" font-size="14" font-weight="bold">vm{vm}</text>"#,
            y + 20.0
        );
        for (i, b) in bs.iter().enumerate() {
            let x = 80.0 + i as f64 * bw;
            let busy = b.busy as f64 / size as f64;
            let idle = b.idle as f64 / size as f64;
            if busy > 0.0 {
                let _ = write!(
                    body,
                    r##"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{strip_h}" fill="#0072b2" fill-opacity="{:.3}"/>"##,
                    bw.max(0.5),
                    busy.clamp(0.05, 1.0)
                );
            } else if idle > 0.0 {
                let _ = write!(
                    body,
                    r##"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{strip_h}" fill="#bbbbbb" fill-opacity="{:.3}"/>"##,
                    bw.max(0.5),
                    idle.clamp(0.05, 1.0)
                );
            }
            let mut top = y + strip_h + 8.0 + exits_h;
            for &r in &used {
                let n = b.exits[r as usize];
                if n == 0 {
                    continue;
                }
                let h = n as f64 / max_exits as f64 * exits_h;
                top -= h;
                let _ = write!(
                    body,
                    r#"<rect class="exits" data-reason="{}" data-count="{n}" x="{x:.2}" y="{top:.2}" width="{:.2}" height="{h:.2}" fill="{}"/>"#,
                    r.name(),
                    bw.max(0.5),
                    colour_of(r)
                );
            }
        }
        let _ = writeln!(
            body,
            r##"<line x1="80" y1="{0:.0}" x2="{1}" y2="{0:.0}" stroke="#333"/></g>"##,
            y + strip_h + 8.0 + exits_h,
            80 + plot_w
        );
        y += strip_h + exits_h + 40.0;
    }
    let end = size * buckets as u64;
    let _ = writeln!(
        body,
        r#"<text x="80" y="{y:.0}" font-size="12">0</text><text x="{}" y="{y:.0}" font-size="12" text-anchor="end">{end} cycles (virtual time; {size} per column)</text>"#,
        80 + plot_w
    );
    let mut legend = String::from(
        r##"<rect x="80" y="30" width="14" height="14" fill="#0072b2"/><text x="100" y="42" font-size="12">on the CPU</text><rect x="190" y="30" width="14" height="14" fill="#bbbbbb"/><text x="210" y="42" font-size="12">idle</text>"##,
    );
    let _ = write!(
        legend,
        r#"<text x="10" y="62" font-size="12">exits:</text>"#
    );
    for (i, &r) in used.iter().enumerate() {
        let x = 80 + 115 * (i % 7) as u32;
        let y = 50 + 20 * (i / 7) as u32;
        let _ = write!(
            legend,
            r#"<rect x="{x}" y="{y}" width="14" height="14" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            colour_of(r),
            x + 18,
            y + 12,
            r.name()
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h:.0}" viewBox="0 0 {WIDTH} {h:.0}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="18" font-weight="bold">{t}</text>
{legend}
{body}</svg>
"#,
        h = y + 20.0,
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
