import { describe, expect, it } from 'vitest';
import { EMPTY_CHANNEL_STATE, nextChannelState } from '../../../../src/core/channel';
import type { Statement } from '../../../../src/shared/schemas';
import { releaseStatement, testIdentity } from '../test-identities';

const proposer = testIdentity('channel-state').keyId; // TEST-ONLY

function control(kind: 'rollback' | 'rollout' | 'pause' | 'resume', seq: number): Statement {
  const base = { ...releaseStatement(proposer), seq, prev: 'a'.repeat(64) };
  const {
    release: _release,
    kind: _kind,
    ...common
  } = base as Extract<Statement, { kind: 'release' }>;
  switch (kind) {
    case 'rollback':
      return { ...common, kind, target: 'r1'.padEnd(64, '0') };
    case 'rollout':
      return { ...common, kind, rollout: { percent: 40 } };
    default:
      return { ...common, kind };
  }
}

describe('#nextChannelState', () => {
  const release = { ...releaseStatement(proposer), seq: 1, prev: null } as Statement;

  it('moves the head and makes a release current with its rollout', () => {
    const state = nextChannelState(EMPTY_CHANNEL_STATE, 'r1', release);
    expect(state).toEqual({
      seq: 1,
      head: 'r1',
      currentRelease: 'r1',
      rolloutPercent: 10,
      paused: false,
      rolledBack: false,
      countingSince: 1,
    });
  });

  it('counts outcomes from the last release, rollback or resume, not from a rollout or pause', () => {
    let state = nextChannelState(EMPTY_CHANNEL_STATE, 'r1', release);
    expect(state.countingSince).toBe(1);
    state = nextChannelState(state, 's2', control('rollout', 2));
    state = nextChannelState(state, 's3', control('pause', 3));
    expect(state.countingSince).toBe(1);
    state = nextChannelState(state, 's4', control('resume', 4));
    expect(state.countingSince).toBe(4);
    state = nextChannelState(state, 's5', control('rollback', 5));
    expect(state.countingSince).toBe(5);
  });

  it('changes the rollout, pauses and resumes without touching the release', () => {
    let state = nextChannelState(EMPTY_CHANNEL_STATE, 'r1', release);
    state = nextChannelState(state, 's2', control('rollout', 2));
    expect(state).toMatchObject({ seq: 2, head: 's2', currentRelease: 'r1', rolloutPercent: 40 });
    state = nextChannelState(state, 's3', control('pause', 3));
    expect(state.paused).toBe(true);
    state = nextChannelState(state, 's4', control('resume', 4));
    expect(state).toMatchObject({ paused: false, currentRelease: 'r1', seq: 4 });
  });

  it('serves a rollback target to everyone, marked rolled back until the next release', () => {
    let state = nextChannelState(EMPTY_CHANNEL_STATE, 'r1', release);
    state = nextChannelState(state, 's2', control('rollback', 2));
    expect(state).toMatchObject({
      currentRelease: 'r1'.padEnd(64, '0'),
      rolloutPercent: 100,
      rolledBack: true,
    });
    state = nextChannelState(state, 'r3', { ...release, seq: 3 });
    expect(state).toMatchObject({ currentRelease: 'r3', rolledBack: false });
  });
});
