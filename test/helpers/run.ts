// Run one of the project's scripts the way a user does, capturing its output:
// the library's one way of starting a script (scripts/lib/core/run-script.ts).
export { runScript, type ScriptResult } from '../../scripts/lib/core/run-script.ts';
