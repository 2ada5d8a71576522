// The runner's watchdog, for the one ending no exit hook sees: this Node process SIGKILLed
// (or killed by the OOM killer). A tiny `sh` process, started once per RunnerProcess, reads
// the runner's process group from a pipe whose other end only this process holds; the
// kernel closes that pipe however we die, and then the watcher kills the group. It works
// for a runner in any language because it needs nothing from the runner, and it is a
// sibling rather than the runner's parent, so `pid`, exit codes and signals stay the
// runner's own.
//
// The protocol on the pipe: one line per change, the group to kill, or 0 for none (the
// runner exited: a pgid the kernel may hand to someone else must not be remembered).
import { spawn, type ChildProcess } from 'node:child_process'

// Signals meant for the host's terminal group are ignored: only the pipe's end counts.
const SCRIPT = `trap '' INT TERM HUP QUIT
pg=0
while read -r line; do pg=$line; done
if [ "$pg" -gt 0 ] 2>/dev/null; then kill -s KILL -- "-$pg" 2>/dev/null; fi
exit 0`

export class RunnerWatcher {
  readonly #child: ChildProcess

  constructor() {
    this.#child = spawn('/bin/sh', ['-c', SCRIPT], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Its own group, so stopping the runner's group never stops the watcher, and a
      // Ctrl-C to our terminal does not reach it.
      detached: true,
    })
    // Neither the watcher nor its pipe may keep Node alive.
    this.#child.unref()
    const stdin = this.#child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null
    stdin?.unref?.()
    // A watcher that could not start (no /bin/sh) leaves us with the exit hooks alone.
    this.#child.on('error', () => {})
    this.#child.stdin?.on('error', () => {})
  }

  /** The group to kill if we die; 0 when there is none. */
  watch(pgid: number): void {
    const stdin = this.#child.stdin
    if (stdin !== null && stdin.writable) stdin.write(`${pgid}\n`)
  }

  /** We are closing cleanly: the watcher ends without killing anything. */
  close(): void {
    this.watch(0)
    this.#child.stdin?.end()
  }
}
