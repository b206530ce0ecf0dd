// The second bundle, dist/features.js: everything the extension needs only once the user does something (starts a
// server, opens the chat, asks for an explanation, answers a tool approval). It is loaded on first use through
// lazy.ts, so activation reads and compiles only the small dist/extension.js.
//
// Both bundles carry their own copy of what they share (presentation, profiles, the settings schema): nothing that
// crosses between them may depend on class identity (no `instanceof` on a class defined in both) or on module state.
export { createServerHandle } from './server/controllerFactory';
export { ChatSession, limitFeedback } from './chat/chatSession';
export { VscodeChatPlatform } from './chat/vscodePlatform';
export { ExplainController } from './explain/explainController';
export { toolsHostFor } from './tools/toolsHost';
