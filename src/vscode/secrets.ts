import * as vscode from 'vscode';

const API_KEY = 'kimi.apiKey';

/** The API key lives only in SecretStorage, never in settings. */
export class Secrets {
  readonly onDidChange: vscode.Event<unknown>;

  constructor(private readonly storage: vscode.SecretStorage) {
    this.onDidChange = (listener, thisArgs, disposables) =>
      storage.onDidChange((e) => e.key === API_KEY && listener.call(thisArgs, e), undefined, disposables);
  }

  async apiKey(): Promise<string | undefined> {
    return (await this.storage.get(API_KEY)) || undefined;
  }

  async setApiKey(value: string | undefined): Promise<void> {
    if (value) await this.storage.store(API_KEY, value);
    else await this.storage.delete(API_KEY);
  }
}
