/**
 * Each experiment's screen forms (Attack, Print, Capture, Compare), kept for the app's lifetime: a
 * screen shown again gets back what was typed and chosen for that experiment, and the job it started.
 * Which job is running is asked of the host each time a screen is shown (jobs.list), so a reloaded page
 * shows the progress and Cancel of work it did not start itself.
 */
import { AttackController } from './attack.svelte.js';
import { CaptureController } from './capture.svelte.js';
import { CompareController } from './compare.svelte.js';
import { PrintController } from './print.svelte.js';
import type { Session } from './session.svelte.js';

interface Forms {
  attack?: AttackController;
  print?: PrintController;
  capture?: CaptureController;
  compare?: CompareController;
}

/** The forms typed while no experiment is open. */
const NONE = '';
const ATTACK_FORM_KEY = 'foolprint.attackForm.';

function tabStorage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * Creates a controller outside the screen that asks for it: a $derived made while a component
 * initialises belongs to that component and goes stale when it unmounts (Svelte's derived_inert),
 * but these forms outlive every screen.
 */
function outliving<T>(create: () => T): T {
  let made: T | undefined;
  $effect.root(() => {
    made = create();
  });
  return made as T;
}

export class ExperimentForms {
  private readonly byExperiment = new Map<string, Forms>();

  constructor(private readonly session: Session) {}

  private forms(experimentId: string | null): Forms {
    const key = experimentId ?? NONE;
    let forms = this.byExperiment.get(key);
    if (!forms) this.byExperiment.set(key, (forms = {}));
    return forms;
  }

  attack(experimentId: string | null): AttackController {
    const forms = this.forms(experimentId);
    forms.attack ??= outliving(() => {
      const attack = new AttackController(this.session, experimentId);
      // A reload keeps the form (the tab's sessionStorage): the running job and the form stay in step.
      const storage = tabStorage();
      const key = (): string | null => (attack.experimentId === null ? null : `${ATTACK_FORM_KEY}${attack.experimentId}`);
      const kept = key() && storage?.getItem(key()!);
      if (kept) {
        try {
          attack.restore(JSON.parse(kept));
        } catch {
          // Not JSON: start from the defaults.
        }
      }
      $effect(() => {
        const form = JSON.stringify(attack.form);
        const where = key();
        if (where) storage?.setItem(where, form);
      });
      return attack;
    });
    void forms.attack.resumeJobs();
    return forms.attack;
  }

  print(experimentId: string | null): PrintController {
    const forms = this.forms(experimentId);
    const print = (forms.print ??= outliving(() => new PrintController(this.session)));
    void print.job.resume('sheetExport', experimentId).then((set) => {
      if (set && this.session.experimentId === experimentId) void print.load();
    });
    return print;
  }

  capture(experimentId: string | null): CaptureController {
    const forms = this.forms(experimentId);
    const capture = (forms.capture ??= outliving(() => new CaptureController(this.session)));
    void capture.job.resume('photoAnalysis', experimentId).then((info) => {
      if (info && this.session.experimentId === experimentId) void capture.load();
    });
    return capture;
  }

  compare(experimentId: string | null): CompareController {
    const forms = this.forms(experimentId);
    return (forms.compare ??= outliving(() => new CompareController(this.session)));
  }

  /** The forms filled in with no experiment open become those of the experiment just created. */
  adopt(experimentId: string): void {
    const none = this.byExperiment.get(NONE);
    if (!none || this.byExperiment.has(experimentId)) return;
    this.byExperiment.delete(NONE);
    this.byExperiment.set(experimentId, none);
    none.attack?.moveTo(experimentId);
  }
}
