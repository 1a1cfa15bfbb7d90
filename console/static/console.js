// Copy buttons of the snippet page. Loaded as a file so the console's CSP can forbid
// inline scripts.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(() => {
    const label = button.textContent;
    button.textContent = button.dataset.copied;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});

// Print buttons (the compliance report prints on A4 with its own print styles).
document.addEventListener("click", (event) => {
  if (event.target.closest("button[data-print]")) window.print();
});

// Period pickers: choosing dates means a custom period.
document.addEventListener("change", (event) => {
  const input = event.target.closest("form.filters input[type=date]");
  const period = input && input.form.querySelector("select[name=period]");
  if (period) period.value = "custom";
});

// Exports: large files are fetched with a progress bar (rows received of the expected
// total; without one, the bar runs and the rows are counted), then saved under the
// server's file name.
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a[data-export]");
  if (!link || !window.ReadableStream) return;
  event.preventDefault();
  const bar = document.getElementById("export-progress");
  const status = document.getElementById("export-status");
  const total = Number(link.dataset.total) || 0;
  const say = (template, rows) => template.replace("{rows}", rows).replace("{total}", total);
  const progress = total ? status.dataset.progress : status.dataset.progressOpen;
  bar.hidden = false;
  if (total) bar.value = 0;
  else bar.removeAttribute("value");
  try {
    const response = await fetch(link.href, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    const reader = response.body.getReader();
    const chunks = [];
    let lines = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      for (const byte of value) if (byte === 10) lines += 1;
      const rows = link.href.includes("format=csv") ? Math.max(lines - 1, 0) : lines;
      if (total) bar.value = Math.min(100, (rows / total) * 100);
      status.textContent = say(progress, rows);
    }
    const rows = link.href.includes("format=csv") ? Math.max(lines - 1, 0) : lines;
    const disposition = response.headers.get("content-disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "export";
    const url = URL.createObjectURL(new Blob(chunks, { type: response.headers.get("content-type") || "" }));
    const save = document.createElement("a");
    save.href = url;
    save.download = name;
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    bar.value = 100;
    status.textContent = say(status.dataset.done, rows);
  } catch (error) {
    status.textContent = status.dataset.failed;
  }
});

// Chart downloads: the inline SVG as a file, or drawn on a canvas (twice the size) as PNG.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-chart-download]");
  if (!button) return;
  const svg = document.querySelector(`#chart-${button.dataset.chart} svg`);
  if (!svg) return;
  const text = new XMLSerializer().serializeToString(svg);
  const format = button.dataset.chartDownload;
  const save = (blob) => {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${button.dataset.chart}.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  if (format === "svg") {
    save(new Blob([text], { type: "image/svg+xml" }));
    return;
  }
  const width = svg.width.baseVal.value;
  const height = svg.height.baseVal.value;
  const image = new Image();
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = width * 2;
    canvas.height = height * 2;
    const context = canvas.getContext("2d");
    context.scale(2, 2);
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    context.drawImage(image, 0, 0, width, height);
    canvas.toBlob((blob) => blob && save(blob), "image/png");
  };
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
});

// On narrow screens wide tables scroll inside their box: make each such box reachable
// with the keyboard, so it can be scrolled without a mouse.
function focusableScrollers() {
  document.querySelectorAll("table.table, .table-wrap, .table-scroll").forEach((box) => {
    if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
    else box.removeAttribute("tabindex");
  });
}
focusableScrollers();
window.addEventListener("resize", focusableScrollers);
