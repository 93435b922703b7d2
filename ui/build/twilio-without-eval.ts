// twilio-video (2.24.2 and later) builds `new Function('url', 'return import(url);')` as soon as it loads,
// to fetch its Krisp noise-cancellation plugin (twilio/twilio-video.js#1885). Under a CSP without
// 'unsafe-eval' (the app window's, and the call page the core serves) that throws, the SDK never loads,
// and `isSupported` reads false. ClinicDesk does not use the plugin, so the one module that does this is
// replaced in the build by one that declines to load plugins; the CSPs stay free of 'unsafe-eval'.
import type { Plugin } from 'vite';

/** The SDK's module, by its path inside the package (either slash, for Windows builds). */
export const DYNAMIC_IMPORT = /[\\/]twilio-video[\\/]es5[\\/]util[\\/]dynamicimport\.js$/;

export const DYNAMIC_IMPORT_REPLACEMENT = `'use strict';
// Replaced by ClinicDesk's build (ui/build/twilio-without-eval.ts): no plugins, no eval.
module.exports = function dynamicImport(module) {
  return Promise.reject(new Error('Failed to import: ' + module + ': plugins are not loaded in ClinicDesk'));
};
`;

export function twilioWithoutEval(): Plugin {
  return {
    name: 'clinicdesk:twilio-video-without-eval',
    enforce: 'pre',
    load(id) {
      // Only the module itself: an id with a query (?raw, ?url) is another kind of import of the file.
      return DYNAMIC_IMPORT.test(id) ? DYNAMIC_IMPORT_REPLACEMENT : null;
    },
  };
}
