/** The Compare screen: digital vs captured per cell, destruction rates per method × ε × case, exports. */
import type { CompareReport } from '../../../app/api/compare.js';
import { downloadFile } from '../download.js';
import type { Session } from './session.svelte.js';

export class CompareController {
  report = $state.raw<CompareReport | null>(null);
  prefilterConfidence = $state(0.8);
  loading = $state(false);
  exporting = $state(false);
  filter = $state<'all' | 'disagree' | 'adversarial' | 'clean'>('all');

  readonly cells = $derived(
    (this.report?.cells ?? []).filter((c) =>
      this.filter === 'all' ? true : this.filter === 'disagree' ? !c.agree : c.kind === this.filter,
    ),
  );
  readonly agreement = $derived.by(() => {
    const analysed = (this.report?.cells ?? []).filter((c) => c.capturedTop5.length > 0);
    return { analysed: analysed.length, agree: analysed.filter((c) => c.agree).length };
  });

  constructor(private readonly session: Session) {}

  async load(): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    this.loading = true;
    const report = await this.session.guard(() => this.session.api.compare.get({ experimentId, prefilterConfidence: this.prefilterConfidence, thumbnails: true }));
    this.loading = false;
    if (report) this.report = report;
  }

  async export(format: 'csv' | 'json' | 'html'): Promise<void> {
    const experimentId = this.session.experimentId;
    if (!experimentId) return;
    this.exporting = true;
    const file = await this.session.guard(() => this.session.api.compare.export({ experimentId, format, prefilterConfidence: this.prefilterConfidence }));
    this.exporting = false;
    if (file) downloadFile(file);
  }
}
