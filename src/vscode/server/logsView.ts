import type { Services } from '../services';

/** "Kimi: Show Server Logs": the server terminal. When this window has followed nothing yet, the end of the log
 *  file on the host (the last run, or a server started elsewhere) is read into it first. */
export async function showServerLogs(s: Services): Promise<void> {
  const server = s.server;
  const terminal = server.terminal;
  if (terminal.lineCount === 0) {
    try {
      const lines = await server.logTail(300);
      if (lines.length > 0) {
        terminal.note(`The last ${lines.length} lines of the log of "${server.runningProfile.name}" on ${server.runningProfile.host}:`);
        for (const l of lines) terminal.write(l);
      }
    } catch (err) {
      terminal.note(`Could not read the server log: ${err instanceof Error ? err.message : String(err)}`);
      s.log.warn(`Reading the server log failed: ${String(err)}`);
    }
  }
  terminal.show();
}
