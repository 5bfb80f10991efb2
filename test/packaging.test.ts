/**
 * electron-builder.yml without building (no Electron binary here): parsed with js-yaml (which
 * electron-builder itself uses), validated with electron-builder's own schema validator, and checked
 * against the real tree: targets, the entry point, which files go in, that every native addon
 * installed in node_modules is unpacked from asar, and the macOS camera description.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const { minimatch } = require('minimatch') as { minimatch(file: string, pattern: string, options?: { dot?: boolean }): boolean };

interface BuilderConfig {
  appId: string;
  productName: string;
  extraMetadata: { main: string };
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  linux: { target: string[]; maintainer: string };
  win: { target: string[] };
  mac: { target: string[]; entitlements: string; extendInfo: Record<string, string> };
}

const config = yaml.load(readFileSync(path.join(root, 'electron-builder.yml'), 'utf8')) as BuilderConfig;

/** electron-builder's `files` semantics: included by some pattern and excluded by no `!` pattern. */
function packaged(file: string): boolean {
  const include = config.files.filter((p) => !p.startsWith('!'));
  const exclude = config.files.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return include.some((p) => minimatch(file, p, { dot: true })) && !exclude.some((p) => minimatch(file, p, { dot: true }));
}

function nativeAddons(dir: string, found: string[] = []): string[] {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) nativeAddons(full, found);
    else if (entry.name.endsWith('.node')) found.push(path.relative(root, full).split(path.sep).join('/'));
  }
  return found;
}

describe('electron-builder.yml', () => {
  it("passes electron-builder's own configuration schema", async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as { validateConfiguration(config: unknown, logger: unknown): Promise<void> };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    // The validator is real: an unknown key is refused.
    await expect(validateConfiguration({ ...config, asarUnpak: [] }, new DebugLogger(false))).rejects.toThrow(/unknown property 'asarUnpak'/);
  });

  it('names the app and builds AppImage + deb, NSIS, dmg', () => {
    expect(config.appId).toBe('org.foolprint.lab');
    expect(config.productName).toBe('Foolprint');
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.linux.maintainer).toMatch(/<.+@.+>/);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
  });

  it('starts the compiled Electron main process', () => {
    expect(config.extraMetadata.main).toBe('dist/main/electron/main.js');
    expect(existsSync(path.join(root, 'main/electron/main.ts'))).toBe(true);
    expect(packaged(config.extraMetadata.main)).toBe(true);
  });

  it.each([
    ['dist/main/electron/main.js', true],
    ['dist/main/preload/preload.cjs', true],
    ['dist/main/preload/preload.js', false],
    ['dist/app/node/compute-worker.js', true],
    ['renderer/dist/index.html', true],
    ['renderer/dist/assets/index-abc123.js', true],
    ['assets/models/lenet-mnist/model.json', true],
    ['assets/samples/mnist-0.png', true],
    ['package.json', true],
    ['main/electron/main.ts', false],
    ['renderer/src/App.svelte', false],
    ['dist/main/start.js.map', false],
    ['test/store.test.ts', false],
    ['e2e/capture.spec.ts', false],
  ])('%s packaged: %s', (file, expected) => expect(packaged(file)).toBe(expected));

  it('unpacks every native addon installed in node_modules, and the TF.js wasm binaries', () => {
    expect(config.asar).toBe(true);
    const addons = ['canvas', 'sharp', '@img', '@tensorflow/tfjs-node'].flatMap((pkg) => nativeAddons(path.join(root, 'node_modules', pkg)));
    // canvas and sharp are installed here with prebuilt addons; tfjs-node only where it installs.
    expect(addons.some((a) => a.startsWith('node_modules/canvas/'))).toBe(true);
    expect(addons.some((a) => a.startsWith('node_modules/@img/sharp-'))).toBe(true);
    for (const addon of addons) expect(config.asarUnpack.some((p) => minimatch(addon, p, { dot: true })), addon).toBe(true);
    for (const file of ['node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node', 'node_modules/@tensorflow/tfjs-node/deps/lib/libtensorflow.so.2', 'node_modules/canvas/build/Release/libcairo.so.2']) {
      expect(config.asarUnpack.some((p) => minimatch(file, p, { dot: true })), file).toBe(true);
    }
    const wasm = readdirSync(path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')).filter((f) => f.endsWith('.wasm'));
    expect(wasm.length).toBeGreaterThan(0);
    for (const file of wasm) expect(config.asarUnpack.some((p) => minimatch(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${file}`, p)), file).toBe(true);
    // Pure JS stays packed.
    expect(config.asarUnpack.some((p) => minimatch('node_modules/zod/index.js', p))).toBe(false);
  });

  it('macOS: camera usage description and the camera entitlement under the hardened runtime', () => {
    expect(config.mac.extendInfo.NSCameraUsageDescription).toMatch(/camera/i);
    expect(config.mac.extendInfo.NSCameraUsageDescription.length).toBeGreaterThan(40);
    const entitlements = readFileSync(path.join(root, config.mac.entitlements), 'utf8');
    expect(entitlements).toMatch(/<key>com\.apple\.security\.device\.camera<\/key>\s*<true\/>/);
  });
});
