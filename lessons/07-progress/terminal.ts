// Lesson 07 client in a terminal: c or Esc cancels, and the terminal is put back however the
// process ends.
import type { Timeline } from '../shared/timeline.ts';

/**
 * In a terminal, c or Esc cancels at once. The keys are read as raw bytes rather than readline's
 * keypress events, which hold a lone Esc back for 500 ms (readline's escapeCodeTimeout) in case an
 * arrow key's escape sequence follows; a terminal writes such a sequence whole, so Esc alone arrives
 * as the one byte \x1b. Raw mode also turns Ctrl-C into a byte (\x03): pass it on as SIGINT.
 */
export function listenForCancelKey(onCancel: () => void, log: Timeline) {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  const onData = (data: Buffer) => {
    const key = data.toString();
    if (key === '\x03') process.kill(process.pid, 'SIGINT');
    else if (key === 'c' || key === 'C' || key === '\x1b') onCancel();
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  log.detail('press c or Esc to cancel');
  let listening = true;
  return {
    dispose() {
      if (!listening) return;
      listening = false;
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    },
  };
}

/**
 * The bar hides the cursor and the keys are read raw: put the terminal back however this process ends.
 * 'exit' comes at the end, on process.exit(), and after an uncaught exception or rejection has been
 * printed; the monitor comes before it is printed, so the error is not written over the bar.
 */
export function restoreTerminalOnExit(restoreTerminal: () => void) {
  process.on('exit', restoreTerminal);
  process.on('uncaughtExceptionMonitor', restoreTerminal);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    // Without a listener Node dies of the signal at once, and no 'exit' listener runs.
    process.once(signal, () => {
      restoreTerminal();
      process.exit(code);
    });
  }
}
