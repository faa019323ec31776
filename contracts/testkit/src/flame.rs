//! A small flamegraph SVG writer for [`crate::Profile`] (no dependencies; the layout of
//! Brendan Gregg's flamegraphs: the root at the bottom, callees above their callers).

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Default)]
struct Node {
    gas: u64,
    children: BTreeMap<String, Node>,
}

const WIDTH: f64 = 1200.0;
const ROW: f64 = 18.0;
const PAD: f64 = 10.0;
const TOP: f64 = 44.0;
const CHAR: f64 = 7.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stable colour per name: blue for host functions, green for contract calls, warm for wasm.
fn colour(name: &str) -> String {
    let h = blake3::hash(name.as_bytes());
    let [a, b, ..] = *h.as_bytes();
    let (a, b) = (u32::from(a), u32::from(b));
    if name.starts_with("keel::") {
        format!("rgb({},{},{})", 80 + a % 40, 140 + b % 50, 230)
    } else if name.contains('.') && !name.starts_with('(') {
        format!("rgb({},{},{})", 90 + a % 40, 200 + b % 40, 90 + b % 30)
    } else if name.starts_with('(') {
        "rgb(200,200,200)".to_string()
    } else {
        format!("rgb({},{},{})", 225 + a % 30, 90 + b % 110, 40 + a % 40)
    }
}

pub(crate) fn svg(title: &str, stacks: &[(Vec<String>, u64)], total: u64) -> String {
    let mut root = Node::default();
    for (stack, gas) in stacks {
        root.gas += gas;
        let mut node = &mut root;
        for name in stack {
            node = node.children.entry(name.clone()).or_default();
            node.gas += gas;
        }
    }
    let depth = max_depth(&root);
    let height = TOP + ROW * (depth as f64 + 1.0) + PAD * 2.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="{w}" height="{height}" viewBox="0 0 {w} {height}" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="{w}" height="{height}" fill="rgb(250,250,245)"/>
<text x="{cx}" y="24" font-family="monospace" font-size="17" text-anchor="middle">{t}</text>
<text x="{cx}" y="40" font-family="monospace" font-size="12" text-anchor="middle" fill="rgb(90,90,90)">{total} gas in all (the receipt's gas_used); width is gas; hover a box for its figures</text>
"#,
        w = WIDTH,
        cx = WIDTH / 2.0,
        t = esc(title),
    );
    let scale = if total == 0 {
        0.0
    } else {
        (WIDTH - 2.0 * PAD) / total as f64
    };
    let bottom = height - PAD - ROW;
    draw(&mut out, "all", &root, PAD, bottom, scale, total);
    let mut x = PAD;
    for (name, child) in &root.children {
        layout(&mut out, name, child, x, bottom - ROW, scale, total);
        x += child.gas as f64 * scale;
    }
    out.push_str("</svg>\n");
    out
}

fn max_depth(n: &Node) -> usize {
    n.children
        .values()
        .map(|c| 1 + max_depth(c))
        .max()
        .unwrap_or(0)
}

fn layout(out: &mut String, name: &str, n: &Node, x: f64, y: f64, scale: f64, total: u64) {
    draw(out, name, n, x, y, scale, total);
    let mut cx = x;
    for (child_name, child) in &n.children {
        layout(out, child_name, child, cx, y - ROW, scale, total);
        cx += child.gas as f64 * scale;
    }
}

fn draw(out: &mut String, name: &str, n: &Node, x: f64, y: f64, scale: f64, total: u64) {
    let w = n.gas as f64 * scale;
    if w < 0.1 {
        return;
    }
    let pct = if total == 0 {
        0.0
    } else {
        n.gas as f64 * 100.0 / total as f64
    };
    let fill = if name == "all" {
        "rgb(230,230,230)".to_string()
    } else {
        colour(name)
    };
    let _ = write!(
        out,
        "<g><title>{} ({} gas, {pct:.2}%)</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\" rx=\"2\"/>",
        esc(name),
        n.gas,
        h = ROW - 1.0,
    );
    let fits = ((w - 6.0) / CHAR).floor().max(0.0) as usize;
    if fits >= 3 {
        let label: String = if name.chars().count() <= fits {
            name.to_string()
        } else {
            let mut s: String = name.chars().take(fits.saturating_sub(2)).collect();
            s.push_str("..");
            s
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"12\">{}</text>",
            x + 3.0,
            y + ROW - 5.0,
            esc(&label)
        );
    }
    out.push_str("</g>\n");
}
