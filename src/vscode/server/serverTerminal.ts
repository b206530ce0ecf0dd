import * as vscode from 'vscode';

const KEEP_LINES = 5000;

/**
 * The server's log in a terminal the extension owns ("Kimi Server: <profile>"): a Pseudoterminal fed with the
 * controller's log lines. Closing it never stops the server; opening it again replays the recent lines.
 */
export class ServerTerminal implements vscode.Disposable {
  private terminal: vscode.Terminal | undefined;
  private writer = new vscode.EventEmitter<string>();
  private lines: string[] = [];
  private open = false;
  private hinted = false;
  private profile = '';
  private readonly closeSub = vscode.window.onDidCloseTerminal((t) => {
    if (t === this.terminal) this.detach();
  });

  get name(): string {
    return `Kimi Server: ${this.profile}`;
  }

  get lineCount(): number {
    return this.lines.length;
  }

  /** Another profile's log from now on: its terminal replaces the previous one (which only showed a log). */
  setProfile(name: string): void {
    if (name === this.profile) return;
    this.profile = name;
    this.lines = [];
    this.terminal?.dispose();
    this.detach();
  }

  write(line: string): void {
    const text = line.replace(/\r?\n/g, '\r\n');
    this.lines.push(text);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
    if (this.open) this.writer.fire(`${text}\r\n`);
  }

  /** A note from the extension (not from the server), dimmed. */
  note(text: string): void {
    this.write(`\x1b[2m[Kimi] ${text}\x1b[0m`);
  }

  /** Creates the terminal if needed, without bringing it to the front. */
  ensure(): vscode.Terminal {
    if (this.terminal) return this.terminal;
    const pty: vscode.Pseudoterminal = {
      onDidWrite: this.writer.event,
      open: () => {
        this.open = true;
        const replay = this.lines.length ? this.lines.map((l) => `${l}\r\n`).join('') : `No output from "${this.profile}" yet. Start the server with "Kimi: Start Server".\r\n`;
        this.writer.fire(replay);
      },
      close: () => this.detach(),
      handleInput: () => {
        if (this.hinted) return;
        this.hinted = true;
        this.writer.fire('\r\n\x1b[2m[Kimi] This terminal only shows the server log. Stop the server with "Kimi: Stop Server"; closing this terminal leaves it running.\x1b[0m\r\n');
      },
    };
    this.terminal = vscode.window.createTerminal({ name: this.name, pty, iconPath: new vscode.ThemeIcon('server-process'), isTransient: true });
    return this.terminal;
  }

  show(): void {
    this.ensure().show(false);
  }

  private detach(): void {
    this.terminal = undefined;
    this.open = false;
    this.hinted = false;
    // A fresh emitter: a closed terminal's pty must not receive the next terminal's output.
    this.writer.dispose();
    this.writer = new vscode.EventEmitter<string>();
  }

  dispose(): void {
    this.closeSub.dispose();
    this.terminal?.dispose();
    this.writer.dispose();
  }
}
