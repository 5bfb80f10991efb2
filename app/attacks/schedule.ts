/**
 * How many steps of which size each iterative method takes at one ε: the papers' defaults, or the
 * caller's numbers. Pure (no TensorFlow) so the Attack screen shows the very schedule the attack will
 * run ("auto (20 at ε 16)") and warns when it cannot reach the edge of the ε-ball.
 */
import type { AttackMethod } from './types.js';

/** Steps and step size (α, [0,1] pixel units) of an iterative method at one ε. */
export interface StepSchedule {
  steps: number;
  stepSize: number;
}

/** What the caller fixed; undefined means "the method's default at this ε". */
export interface ScheduleChoice {
  steps?: number;
  stepSize?: number;
}

export const PGD_DEFAULT_STEPS = 40;

/** Kurakin et al. 2016, §2.2, ε in grey levels: α = 1 level, min(ε + 4, 1.25·ε) steps, enough to reach the ball's edge and a few more. */
export function kurakinSteps(epsilon: number): number {
  const levels = epsilon * 255;
  return Math.max(1, Math.round(Math.min(levels + 4, 1.25 * levels)));
}

/** FGSM is one step of size ε. */
export function fgsmSchedule(epsilon: number): StepSchedule {
  return { steps: 1, stepSize: epsilon };
}

/** BIM and the iterative least-likely class method: Kurakin et al.'s schedule per ε. */
export function bimSchedule(epsilon: number, o: ScheduleChoice): StepSchedule {
  return { steps: o.steps ?? kurakinSteps(epsilon), stepSize: o.stepSize ?? 1 / 255 };
}

/** PGD (Madry et al.): 40 steps of 2.5·ε/steps. */
export function pgdSchedule(epsilon: number, o: ScheduleChoice): StepSchedule {
  const steps = o.steps ?? PGD_DEFAULT_STEPS;
  return { steps, stepSize: o.stepSize ?? (2.5 * epsilon) / steps };
}

/** The schedule `method` runs at ε; undefined for DeepFool, which has no step size and runs once for all ε. */
export function stepSchedule(method: AttackMethod, epsilon: number, o: ScheduleChoice): StepSchedule | undefined {
  switch (method) {
    case 'fgsm':
      return fgsmSchedule(epsilon);
    case 'bim':
    case 'll':
      return bimSchedule(epsilon, o);
    case 'pgd':
      return pgdSchedule(epsilon, o);
    case 'deepfool':
      return undefined;
  }
}

/**
 * L∞ sign steps move each pixel by at most steps·α: below ε the attack cannot reach the edge of its
 * ε-ball, and a larger ε changes nothing (the flat BIM sweep of issue 8). A small tolerance absorbs
 * the float error of levels/255.
 */
export function reachesBallEdge(epsilon: number, schedule: StepSchedule): boolean {
  return schedule.steps * schedule.stepSize >= epsilon - 1e-9;
}
