// The benchmark's chart, as SVG: Vega-Lite describes it, Vega renders it (no browser, no canvas).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchResults } from './bench.ts';

const BLUE = '#4c78a8';
const ORANGE = '#f58518';

function bars(title: string, unit: string, rows: { label: string; series: string; value: number }[], logScale = false) {
  const x = {
    field: 'value',
    type: 'quantitative' as const,
    title: unit,
    // A log axis has no zero: bars start at 0.1 ms.
    ...(logScale && { scale: { type: 'log' as const, domainMin: 0.1 } }),
  };
  const position = {
    y: { field: 'label', type: 'nominal' as const, title: null, sort: null, axis: { labelLimit: 320 } },
    yOffset: { field: 'series', sort: null },
    x,
  };
  return {
    title,
    width: 520,
    height: { step: 16 },
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar' as const },
        encoding: {
          ...position,
          ...(logScale && { x2: { datum: 0.1 } }),
          color: {
            field: 'series',
            title: null,
            sort: null,
            scale: { range: [BLUE, ORANGE, '#54a24b', '#e45756'] },
          },
        },
      },
      {
        mark: { type: 'text' as const, align: 'left' as const, dx: 3, fontSize: 10 },
        encoding: { ...position, text: { field: 'value', type: 'quantitative' as const, format: ',.4~r' } },
      },
    ],
  };
}

export async function drawChart(r: BenchResults): Promise<string> {
  const server = (onCancel: string) => (onCancel === 'none' ? 'stock SDK' : 'recommended');
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'MCP cancellation, measured side by side',
      subtitle: `${r.machine.cores} cores, ${r.machine.memoryMb} MB, Node ${r.machine.node}, SDK ${r.machine.sdk}, ${r.when.slice(0, 10)}`,
    },
    vconcat: [
      bars(
        '1. Cancel sent → handler cleaned up (log scale)',
        'ms',
        r.latency.flatMap((l) => [
          { label: l.label, series: 'median', value: l.cancelToCleanupMs.median },
          { label: l.label, series: 'p99', value: l.cancelToCleanupMs.p99 },
        ]),
        true,
      ),
      bars(`2. ${r.concurrent[0]?.calls ?? 0} concurrent calls cancelled: last cleanup after the cancels`, 'ms', [
        ...r.concurrent.map((c) => ({
          label: `${server(c.onCancel)}, round ${c.round}`,
          series: server(c.onCancel),
          value: c.lastCleanupMs,
        })),
        { label: 'cancels naming no call (the floor)', series: 'floor', value: r.floor.lastReadMs },
      ]),
      bars(
        `3. Held 1 s after ${r.sequential[0]?.cancels ?? 0} sequential cancels`,
        'count',
        r.sequential.flatMap((s) => [
          { label: 'SSE streams', series: server(s.onCancel), value: s.after.openResponseStreams },
          { label: 'keep-alive timers', series: server(s.onCancel), value: s.after.keepAliveTimers },
          { label: 'SDK map entries', series: server(s.onCancel), value: s.after.sdkRequestMappings },
          { label: 'TCP connections', series: server(s.onCancel), value: s.after.tcpConnections ?? 0 },
        ]),
      ),
      bars(
        '4. Cancel sent → progress flood stopped (log scale)',
        'ms',
        r.flood.flatMap((f) => [
          { label: f.label, series: 'median', value: f.cancelToStopMs.median },
          { label: f.label, series: 'p99', value: f.cancelToStopMs.p99 },
        ]),
        true,
      ),
    ],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
