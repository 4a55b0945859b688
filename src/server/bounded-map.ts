/**
 * A map with a fixed capacity whose every operation costs O(1), eviction included (ARCHITECTURE.md
 * "Fleet scale": nothing on the device path scans the devices it knows). Keys are attacker
 * controlled (device ids, addresses, request bodies), so an attacker sending endless new keys must
 * cost the same per key as a fleet of ten devices.
 *
 * Eviction is CLOCK (second chance): slots form a ring; a `get` or `set` marks its slot as used;
 * to make room the hand walks the ring, clearing marks, and takes the first unmarked slot. The walk
 * is capped at {@link MAX_SWEEP} slots: after that the slot under the hand goes even if it was used.
 * So recently used keys tend to stay, and no insertion ever touches more than MAX_SWEEP slots.
 *
 * Why not `Map` in insertion order with `keys().next()` to drop the oldest: V8 leaves deleted
 * entries in place until the table is rebuilt, and a fresh iterator skips them one by one, so at
 * 100,000 keys each eviction walks thousands of holes.
 */

/** The most slots one insertion examines when the map is full. */
export const MAX_SWEEP = 8;

export class BoundedMap<V> {
  private readonly slots = new Map<string, number>();
  private readonly keys: (string | undefined)[];
  private readonly values: (V | undefined)[];
  private readonly used: Uint8Array;
  private hand = 0;
  private filled = 0;
  /** Slots examined by evictions since construction (tests count work with it, not time). */
  sweeps = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('A BoundedMap needs a capacity of at least 1.');
    }
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.values = new Array<V | undefined>(capacity).fill(undefined);
    this.used = new Uint8Array(capacity);
  }

  get size(): number {
    return this.slots.size;
  }

  /** The value for `key`, marking it as recently used. */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.used[slot] = 1;
    return this.values[slot];
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  /** Sets `key`, evicting one other key when the map is full. */
  set(key: string, value: V): void {
    const existing = this.slots.get(key);
    if (existing !== undefined) {
      this.values[existing] = value;
      this.used[existing] = 1;
      return;
    }
    const slot = this.filled < this.capacity ? this.filled++ : this.evict();
    this.slots.set(key, slot);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.used[slot] = 0;
  }

  /** Frees one slot (at most MAX_SWEEP examined) and returns it. */
  private evict(): number {
    let slot = this.hand;
    for (let step = 0; step < MAX_SWEEP; step++) {
      this.sweeps++;
      slot = this.hand;
      this.hand = slot + 1 === this.capacity ? 0 : slot + 1;
      if (this.used[slot] === 0) break;
      this.used[slot] = 0;
    }
    const old = this.keys[slot];
    if (old !== undefined) this.slots.delete(old);
    return slot;
  }
}
