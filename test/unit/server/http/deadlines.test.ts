import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../../../src/server/http/deadlines';

describe('DeadlineQueue', () => {
  function queueAt(clock: { now: number }, lengthMs = 1000): DeadlineQueue {
    return new DeadlineQueue(lengthMs, () => clock.now, 1_000_000);
  }

  it('fires a deadline once it is due, and only then', () => {
    const clock = { now: 0 };
    const queue = queueAt(clock);
    let fired = 0;
    queue.add({ expire: () => fired++ });
    clock.now = 999;
    queue.sweep();
    expect(fired).toBe(0);
    clock.now = 1000;
    queue.sweep();
    queue.sweep();
    expect(fired).toBe(1);
    queue.close();
  });

  it('never fires a cancelled deadline, and keeps nothing of it', () => {
    const clock = { now: 0 };
    const queue = queueAt(clock);
    let fired = 0;
    const targets = Array.from({ length: 10_000 }, () => ({ expire: () => fired++ }));
    for (const target of targets) queue.add(target);
    expect(queue.pending).toBe(10_000);
    for (const target of targets) queue.cancel(target);
    expect(queue.pending).toBe(0);
    clock.now = 5000;
    queue.sweep();
    expect(fired).toBe(0);
    queue.close();
  });

  it('fires in order of arming, stopping at the first deadline not yet due', () => {
    const clock = { now: 0 };
    const queue = queueAt(clock);
    const order: number[] = [];
    queue.add({ expire: () => order.push(1) });
    clock.now = 500;
    queue.add({ expire: () => order.push(2) });
    clock.now = 1200;
    queue.sweep();
    expect(order).toEqual([1]);
    clock.now = 1500;
    queue.sweep();
    expect(order).toEqual([1, 2]);
    queue.close();
  });

  it('moves a re-armed target to the back, with a new due time', () => {
    const clock = { now: 0 };
    const queue = queueAt(clock);
    const order: number[] = [];
    const first = { expire: () => order.push(1) };
    queue.add(first);
    clock.now = 100;
    queue.add({ expire: () => order.push(2) });
    clock.now = 200;
    queue.add(first);
    clock.now = 1150;
    queue.sweep();
    expect(order).toEqual([2]);
    clock.now = 1200;
    queue.sweep();
    expect(order).toEqual([2, 1]);
    expect(queue.pending).toBe(0);
    queue.close();
  });
});
