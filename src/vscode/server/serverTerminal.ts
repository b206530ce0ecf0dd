import * as vscode from 'vscode';

const KEEP_LINES = 2000;

/** The server's log in a terminal the extension owns: the user reads it, closing it never stops the server, and
 *  reopening replays what it missed. */
export class ServerTerminal implements vscode.Disposable {
  private terminal: vscode.Terminal | undefined;
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly lines: string[] = [];
  private open = false;
  private title = 'Kimi Server';
  private readonly closeSub = vscode.window.onDidCloseTerminal((t) => {
    if (t === this.terminal) {
      this.terminal = undefined;
      this.open = false;
    }
  });

  setTitle(profileName: string): void {
    this.title = `Kimi Server: ${profileName}`;
  }

  write(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
    if (this.open) this.writer.fire(`${line}\r\n`);
  }

  show(): void {
    if (!this.terminal) {
      const pty: vscode.Pseudoterminal = {
        onDidWrite: this.writer.event,
        open: () => {
          this.open = true;
          this.writer.fire(this.lines.length ? this.lines.map((l) => `${l}\r\n`).join('') : 'No server output yet. Start the server with "Kimi: Start Server".\r\n');
        },
        close: () => {
          this.open = false;
        },
      };
      this.terminal = vscode.window.createTerminal({ name: this.title, pty, iconPath: new vscode.ThemeIcon('server-process') });
    }
    this.terminal.show(true);
  }

  dispose(): void {
    this.closeSub.dispose();
    this.terminal?.dispose();
    this.writer.dispose();
  }
}
