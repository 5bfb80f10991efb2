import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultChannelProfile, parseChannelProfile, ChannelProfileError } from '../app/physical/channel-profile.js';
import { applyToneCurve } from '../app/physical/tone-curve.js';

describe('channel profile', () => {
  it('the default profile round-trips through JSON', () => {
    const profile = defaultChannelProfile();
    expect(parseChannelProfile(JSON.stringify(profile))).toEqual(profile);
  });

  it('names the first bad field', () => {
    const profile = { ...defaultChannelProfile(), blurMm: [0.5, 0.1] };
    expect(() => parseChannelProfile(JSON.stringify(profile))).toThrow(/blurMm: a range is \[smallest, largest\]/);
    const decreasing = defaultChannelProfile();
    decreasing.tone[1] = [0.2, 0.1, 0.9];
    expect(() => parseChannelProfile(JSON.stringify(decreasing))).toThrow(/tone\.1: a tone curve must not decrease/);
    expect(() => parseChannelProfile('{')).toThrow(ChannelProfileError);
  });

  it('refuses any text that is not a profile with a ChannelProfileError, never another error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parseChannelProfile(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ChannelProfileError);
        }
      }),
    );
  });

  it('a tone curve interpolates between its knots and clamps outside [0,1]', () => {
    const knots = [0.1, 0.5, 0.7];
    expect(applyToneCurve(knots, 0)).toBeCloseTo(0.1);
    expect(applyToneCurve(knots, 0.25)).toBeCloseTo(0.3);
    expect(applyToneCurve(knots, 0.75)).toBeCloseTo(0.6);
    expect(applyToneCurve(knots, 1)).toBeCloseTo(0.7);
    expect(applyToneCurve(knots, 2)).toBeCloseTo(0.7);
    expect(applyToneCurve(knots, -1)).toBeCloseTo(0.1);
  });
});
