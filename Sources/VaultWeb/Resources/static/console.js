// The console's behaviour, as small modules (no inline script anywhere: the CSP forbids it).
import { startIdleClock } from "./idle.js";
import { keepDrafts } from "./draft.js";
import { startLive } from "./live.js";
import { startDashboard } from "./dashboard.js";
import { useTemplates } from "./templates.js";

startIdleClock(document.body);
keepDrafts(document);
useTemplates(document);
startLive(document);
startDashboard(document);
