/** A small canvas time-series chart: filled lines, a few grid lines, crisp on high-DPI screens. */

export interface Series {
  label: string;
  /** CSS custom property holding the colour, e.g. `--series-1`. */
  color: string;
  values: number[];
}

export class LineChart {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private times: number[] = [];
  private readonly observer: ResizeObserver;

  constructor(
    private readonly host: HTMLElement,
    readonly series: Series[],
    private readonly capacity = 120,
    private readonly format: (v: number) => string = formatNumber,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', series.map((s) => s.label).join(', '));
    host.append(this.canvas);
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) throw new Error('no 2d canvas');
    this.ctx = ctx;
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(host);
  }

  /** Appends one point per series (in the order of `series`). */
  push(t: number, values: number[]): void {
    this.times.push(t);
    for (let i = 0; i < values.length; i++) this.series[i]?.values.push(values[i]!);
    if (this.times.length > this.capacity) {
      this.times.shift();
      for (const s of this.series) s.values.shift();
    }
    this.canvas.dataset.points = String(this.times.length);
    this.canvas.dataset.last = values.join(',');
    this.draw();
  }

  reset(): void {
    this.times = [];
    for (const s of this.series) s.values.length = 0;
  }

  draw(): void {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const width = this.host.clientWidth;
    const height = this.host.clientHeight;
    if (width === 0 || height === 0) return;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(this.host);
    const grid = style.getPropertyValue('--grid').trim() || '#8884';
    const muted = style.getPropertyValue('--muted').trim() || '#888';
    const padLeft = 44;
    const padRight = 8;
    const padTop = 8;
    const padBottom = 18;
    const w = width - padLeft - padRight;
    const h = height - padTop - padBottom;
    let max = 0;
    for (const s of this.series) for (const v of s.values) if (v > max) max = v;
    const top = niceCeil(max);
    ctx.font = '11px ui-sans-serif, system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(padTop + h - (h * i) / 4) + 0.5;
      ctx.strokeStyle = grid;
      ctx.beginPath();
      ctx.moveTo(padLeft, y);
      ctx.lineTo(padLeft + w, y);
      ctx.stroke();
      ctx.fillStyle = muted;
      ctx.fillText(this.format((top * i) / 4), padLeft - 6, y);
    }
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(`${this.capacity} s`, padLeft, height - 3);
    ctx.textAlign = 'right';
    ctx.fillText('now', padLeft + w, height - 3);
    const n = this.times.length;
    if (n < 2) return;
    const step = w / (this.capacity - 1);
    const x0 = padLeft + w - (n - 1) * step;
    for (const s of this.series) {
      const color = style.getPropertyValue(s.color).trim() || '#22d3ee';
      const points = s.values.map((v, i) => [x0 + i * step, padTop + h - (top === 0 ? 0 : (v / top) * h)] as const);
      const gradient = ctx.createLinearGradient(0, padTop, 0, padTop + h);
      gradient.addColorStop(0, withAlpha(color, 0.28));
      gradient.addColorStop(1, withAlpha(color, 0));
      tracePath(ctx, points);
      ctx.lineTo(points[points.length - 1]![0], padTop + h);
      ctx.lineTo(points[0]![0], padTop + h);
      ctx.closePath();
      ctx.fillStyle = gradient;
      ctx.fill();
      tracePath(ctx, points);
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      ctx.stroke();
    }
  }
}

function tracePath(ctx: CanvasRenderingContext2D, points: (readonly [number, number])[]): void {
  ctx.beginPath();
  points.forEach(([x, y], i) => {
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
}

function niceCeil(v: number): number {
  if (v <= 0) return 4;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}

/** `#rrggbb` → rgba with alpha; other colour syntaxes are returned unchanged. */
function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m === null) return color;
  const n = Number.parseInt(m[1]!, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function formatNumber(v: number): string {
  if (v >= 1e9) return `${trim(v / 1e9)}G`;
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

export function formatBytes(v: number): string {
  if (v >= 1 << 30) return `${trim(v / (1 << 30))} GiB`;
  if (v >= 1 << 20) return `${trim(v / (1 << 20))} MiB`;
  if (v >= 1 << 10) return `${trim(v / (1 << 10))} KiB`;
  return `${Math.round(v)} B`;
}
