/**
 * Channel calibration in the UI: the calibration sheets to print (Print screen) and the profiles fitted
 * from photos of them (Capture screen). Both live in the workspace, not in one experiment.
 */
import type { CalibrationSheet, ChannelProfileInfo } from '../../../app/api/calibration.js';
import type { ChannelProfile } from '../../../app/physical/channel-profile.js';
import { bytesToBase64 } from '../base64.js';
import { downloadFile, openForPrinting } from '../download.js';
import { JobProgress } from './job.svelte.js';
import type { Session } from './session.svelte.js';

export class CalibrationController {
  readonly job: JobProgress;
  sheets = $state.raw<CalibrationSheet[]>([]);
  profiles = $state.raw<ChannelProfileInfo[]>([]);
  /** The profile shown in the panel, with its curves. */
  shown = $state.raw<{ info: ChannelProfileInfo; profile: ChannelProfile } | null>(null);
  paper = $state<'a4' | 'letter'>('a4');
  name = $state('');
  making = $state(false);
  message = $state<string | null>(null);

  constructor(private readonly session: Session) {
    this.job = new JobProgress(session.api);
  }

  async loadSheets(): Promise<void> {
    const sheets = await this.session.guard(() => this.session.api.calibration.sheets());
    if (sheets) this.sheets = sheets;
  }

  async loadProfiles(): Promise<void> {
    const profiles = await this.session.guard(() => this.session.api.calibration.profiles());
    if (!profiles) return;
    this.profiles = profiles;
    if (!this.shown && profiles.length > 0) await this.show(profiles[profiles.length - 1]);
    const finished = await this.job.resume('calibration', null);
    if (finished) await this.fitted(finished);
  }

  async makeSheet(): Promise<void> {
    this.making = true;
    try {
      const sheet = await this.session.guard(() => this.session.api.calibration.sheet({ paper: this.paper }));
      if (!sheet) return;
      this.sheets = [...this.sheets, sheet];
      this.message = `Calibration sheet ready (${sheet.patches} patches, ${sheet.edges} slanted edges): print it at 100% on the printer and paper you will attack with, then photograph it and fit a profile on the Capture screen.`;
    } finally {
      this.making = false;
    }
  }

  async download(sheet: CalibrationSheet, file: 'pdf' | 'png' | 'manifest'): Promise<void> {
    const bytes = await this.session.guard(() => this.session.api.calibration.file({ calibrationSheetId: sheet.calibrationSheetId, file }));
    if (bytes) downloadFile(bytes);
  }

  async print(sheet: CalibrationSheet): Promise<void> {
    const bytes = await this.session.guard(() => this.session.api.calibration.file({ calibrationSheetId: sheet.calibrationSheetId, file: 'pdf' }));
    if (!bytes) return;
    if (openForPrinting(bytes)) this.message = 'The PDF opened in a new tab: print it at 100% ("actual size"), not "fit to page".';
    else {
      downloadFile(bytes);
      this.message = 'The PDF was downloaded: print it at 100% ("actual size"), not "fit to page".';
    }
  }

  async fit(files: File[]): Promise<void> {
    if (files.length === 0) return;
    const photos = await Promise.all(files.map(async (file) => ({ name: file.name, mimeType: file.type || 'application/octet-stream', base64: bytesToBase64(new Uint8Array(await file.arrayBuffer())) })));
    const name = this.name.trim() || undefined;
    const info = await this.job.run('calibration', `Calibrating from ${files.length} photo(s)`, () => this.session.api.calibration.fit({ photos, name }));
    if (info) await this.fitted(info);
  }

  private async fitted(info: ChannelProfileInfo): Promise<void> {
    this.profiles = [...this.profiles.filter((p) => p.profileId !== info.profileId), info];
    const skipped = info.failures.length > 0 ? ` Skipped: ${info.failures.map((f) => f.message).join('; ')}` : '';
    this.message = `Profile "${info.name}" fitted from ${info.photos.length} photo(s).${skipped}`;
    await this.show(info);
  }

  async show(info: ChannelProfileInfo): Promise<void> {
    const profile = await this.session.guard(() => this.session.api.calibration.profile({ profileId: info.profileId }));
    if (profile) this.shown = { info, profile };
  }
}
