// Kills runner processes when this Node process goes away without closing them.
//
// signal-exit covers a normal end, process.exit(), an uncaught exception, and the fatal
// signals, and for signals it acts only when no listener of the application's is present
// (then it runs our cleanup and re-raises the signal, so the process dies as it would
// have). An application that handles SIGTERM itself keeps its runner until it closes it
// or exits. It also cooperates with other copies of signal-exit in the process (test
// runners, loggers), where hand-written "am I the last listener?" checks deadlock.
import { onExit } from 'signal-exit'

/** Registers synchronous cleanup for process exit; returns its removal. */
export function onProcessExit(cleanup: () => void): () => void {
  return onExit(() => {
    try {
      cleanup()
    } catch {
      // best effort: the process is going away
    }
  })
}
