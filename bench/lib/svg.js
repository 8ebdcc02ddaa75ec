// A small SVG line-chart writer (no plotting package): integer x positions,
// y from 0 to a rounded maximum, one polyline per series with min–max bars.

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A "nice" upper bound and tick step for [0, max]. */
function niceScale(max, ticks = 5) {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

/**
 * series: [{ name, color, points: [{ x, y, lo?, hi? }] }]; xs: the x values (ticks).
 * Returns the SVG document as a string.
 */
export function lineChart({ title, subtitle = "", xLabel, yLabel, xs, series, width = 720, height = 440 }) {
  const m = { l: 80, r: 190, t: 64, b: 56 };
  const W = width - m.l - m.r, H = height - m.t - m.b;
  const ymax = Math.max(...series.flatMap((s) => s.points.map((p) => Math.max(p.y ?? 0, p.hi ?? 0))));
  const { top, step } = niceScale(ymax);
  const xmin = Math.min(...xs), xmax = Math.max(...xs);
  const X = (x) => m.l + (xmax === xmin ? W / 2 : ((x - xmin) / (xmax - xmin)) * W);
  const Y = (y) => m.t + H - (y / top) * H;
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  o.push(`<text x="${m.l}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) o.push(`<text x="${m.l}" y="44" fill="#555">${esc(subtitle)}</text>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    o.push(`<line x1="${m.l}" x2="${m.l + W}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#ddd"/>`);
    o.push(`<text x="${m.l - 8}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v).toLocaleString("en-US")}</text>`);
  }
  for (const x of xs) {
    o.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${m.t + H}" y2="${m.t + H + 5}" stroke="#333"/>`);
    o.push(`<text x="${X(x).toFixed(1)}" y="${m.t + H + 20}" text-anchor="middle">${x}</text>`);
  }
  o.push(`<line x1="${m.l}" x2="${m.l + W}" y1="${m.t + H}" y2="${m.t + H}" stroke="#333"/>`);
  o.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + H}" stroke="#333"/>`);
  o.push(`<text x="${m.l + W / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  o.push(`<text transform="translate(18 ${m.t + H / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, k) => {
    const pts = s.points.filter((p) => p.y !== null && p.y !== undefined);
    o.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ")}"/>`);
    for (const p of pts) {
      if (p.lo !== undefined && p.hi !== undefined) {
        o.push(`<line x1="${X(p.x).toFixed(1)}" x2="${X(p.x).toFixed(1)}" y1="${Y(p.lo).toFixed(1)}" y2="${Y(p.hi).toFixed(1)}" stroke="${s.color}" stroke-width="1"/>`);
      }
      o.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}, ${p.x}: ${Math.round(p.y)}`)}</title></circle>`);
    }
    const ly = m.t + 10 + k * 22;
    o.push(`<line x1="${m.l + W + 16}" x2="${m.l + W + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    o.push(`<text x="${m.l + W + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  o.push(`</svg>`);
  return o.join("\n") + "\n";
}
