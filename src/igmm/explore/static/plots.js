// Small canvas plots for the explorer: axes with ticks, time panels drawn a step at a time, scatter and graph panels.
// Time panels have fixed ranges (t in 0..T), so each new step adds a few strokes instead of redrawing the run.
(function (global) {
  "use strict";

  const MARGIN = { left: 44, right: 10, top: 8, bottom: 28 };

  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / Math.max(count, 1);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }

  class Axes {
    // canvas: an HTMLCanvasElement sized by CSS; xlabel, ylabel: axis titles.
    constructor(canvas, xlabel, ylabel) {
      this.canvas = canvas;
      this.xlabel = xlabel;
      this.ylabel = ylabel;
      this.xlim = [0, 1];
      this.ylim = [0, 1];
    }

    // Size the canvas to its box at the device's pixel ratio, clear it and draw the axes.
    reset(xlim, ylim, options) {
      options = options || {};
      const ratio = global.devicePixelRatio || 1;
      const width = Math.max(this.canvas.clientWidth, 50);
      const height = Math.max(this.canvas.clientHeight, 50);
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      const ctx = this.canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      this.ctx = ctx;
      this.width = width;
      this.height = height;
      this.plot = { x0: MARGIN.left, x1: width - MARGIN.right, y0: height - MARGIN.bottom, y1: MARGIN.top };
      if (options.equal) {
        // One data unit is as long across as up: widen the x range to the box's aspect.
        const aspect = (this.plot.x1 - this.plot.x0) / (this.plot.y0 - this.plot.y1);
        const middle = (xlim[0] + xlim[1]) / 2, half = ((ylim[1] - ylim[0]) / 2) * aspect;
        xlim = [middle - half, middle + half];
      }
      this.xlim = xlim;
      this.ylim = ylim;
      ctx.clearRect(0, 0, width, height);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, width, height);
      if (options.bare) return;
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.strokeRect(this.plot.x0, this.plot.y1, this.plot.x1 - this.plot.x0, this.plot.y0 - this.plot.y1);
      ctx.fillStyle = "#333";
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      const xticks = niceTicks(xlim[0], xlim[1], 6).filter((v) => !options.integerX || Number.isInteger(v));
      for (const v of xticks) {
        ctx.fillText(String(v), this.x(v), this.plot.y0 + 3);
      }
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const v of options.yticks || niceTicks(ylim[0], ylim[1], 4)) {
        ctx.fillText(String(v), this.plot.x0 - 4, this.y(v));
      }
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      ctx.fillText(this.xlabel, (this.plot.x0 + this.plot.x1) / 2, height - 1);
      ctx.save();
      ctx.translate(11, (this.plot.y0 + this.plot.y1) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = "middle";
      ctx.fillText(this.ylabel, 0, 0);
      ctx.restore();
    }

    x(v) {
      return this.plot.x0 + ((v - this.xlim[0]) / (this.xlim[1] - this.xlim[0] || 1)) * (this.plot.x1 - this.plot.x0);
    }

    y(v) {
      return this.plot.y0 - ((v - this.ylim[0]) / (this.ylim[1] - this.ylim[0] || 1)) * (this.plot.y0 - this.plot.y1);
    }

    // Line segments [x0, y0, x1, y1, ...] in data units, in one colour.
    segments(coords, colour, width, alpha) {
      if (!coords.length) return;
      const ctx = this.ctx;
      ctx.save();
      this.clip();
      ctx.strokeStyle = colour;
      ctx.lineWidth = width || 1;
      ctx.globalAlpha = alpha === undefined ? 1 : alpha;
      ctx.beginPath();
      for (let i = 0; i < coords.length; i += 4) {
        ctx.moveTo(this.x(coords[i]), this.y(coords[i + 1]));
        ctx.lineTo(this.x(coords[i + 2]), this.y(coords[i + 3]));
      }
      ctx.stroke();
      ctx.restore();
    }

    // A filled cell from (x, y0) to (x + dx, y1) in data units.
    cell(x, dx, y0, y1, colour, alpha) {
      const ctx = this.ctx;
      ctx.globalAlpha = alpha;
      ctx.fillStyle = colour;
      const left = this.x(x), right = this.x(x + dx);
      const top = this.y(y1), bottom = this.y(y0);
      ctx.fillRect(left, top, Math.max(right - left, 1), Math.max(bottom - top, 1));
      ctx.globalAlpha = 1;
    }

    // Dots at points [[x, y], ...] coloured by colours[i].
    dots(points, colours, radius) {
      const ctx = this.ctx;
      ctx.save();
      this.clip();
      ctx.lineWidth = 0.5;
      ctx.strokeStyle = "#222";
      for (let i = 0; i < points.length; i++) {
        ctx.beginPath();
        ctx.fillStyle = colours[i];
        ctx.arc(this.x(points[i][0]), this.y(points[i][1]), radius, 0, 2 * Math.PI);
        ctx.fill();
        if (radius > 2) ctx.stroke();
      }
      ctx.restore();
    }

    text(message) {
      const ctx = this.ctx;
      ctx.fillStyle = "#555";
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.fillText(message, (this.plot.x0 + this.plot.x1) / 2, this.plot.y1 + 4);
    }

    clip() {
      const p = this.plot;
      this.ctx.beginPath();
      this.ctx.rect(p.x0, p.y1, p.x1 - p.x0, p.y0 - p.y1);
      this.ctx.clip();
    }
  }

  // A horizontal colour key: the colour of every ID, labelled at both ends.
  function colourKey(canvas, palette, label) {
    const ratio = global.devicePixelRatio || 1;
    const width = Math.max(canvas.clientWidth, 50), height = Math.max(canvas.clientHeight, 20);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    const x0 = MARGIN.left, x1 = width - MARGIN.right, n = palette.length;
    for (let i = 0; i < n; i++) {
      ctx.fillStyle = palette[i];
      ctx.fillRect(x0 + (i / n) * (x1 - x0), 2, (x1 - x0) / n + 0.5, 10);
    }
    ctx.fillStyle = "#333";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText("0", x0, 14);
    ctx.textAlign = "right";
    ctx.fillText(String(n - 1), x1, 14);
    ctx.textAlign = "center";
    ctx.fillText(label, (x0 + x1) / 2, 14);
  }

  global.IgmmPlots = { Axes, colourKey, niceTicks };
})(window);
