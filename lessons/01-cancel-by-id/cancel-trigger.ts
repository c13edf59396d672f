// When the lesson 01 client cancels: after a delay, or at once when the reader presses c or Esc.
import type { Timeline } from '../shared/timeline.ts';
import { deferred } from '../shared/wait.ts';

/** Resolves with what fired it ("after 1200 ms", "on a key press: c"); keys are read only in a terminal. */
export function cancelTrigger(
  cancelAfterMs: number,
  inTerminal: boolean,
  log: Timeline,
): { fired: Promise<string>; dispose(): void } {
  const fired = deferred<string>();
  const timer = setTimeout(() => fired.resolve(`after ${cancelAfterMs} ms`), cancelAfterMs);
  const stdin = process.stdin;
  // Raw bytes, not readline's keypress events: readline holds a lone Esc for 500 ms to see whether
  // an escape sequence (an arrow key: ESC [ A) follows. In raw mode a key arrives as one chunk.
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    // Raw mode turns off the terminal's own Ctrl-C, so pass it on.
    if (text.includes('\x03')) process.kill(process.pid, 'SIGINT');
    else if (text === '\x1b') fired.resolve('on a key press: Esc');
    else if (!text.startsWith('\x1b') && /c/i.test(text)) fired.resolve('on a key press: c');
  };
  if (inTerminal) {
    stdin.setRawMode(true);
    stdin.on('data', onData);
    log.detail(`press c or Esc to cancel now, or wait ${cancelAfterMs} ms`);
  }
  return {
    fired: fired.promise,
    dispose() {
      clearTimeout(timer);
      if (inTerminal) {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
      }
    },
  };
}
