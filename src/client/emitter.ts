/**
 * A tiny typed event emitter (the client runs in browsers too, so it does not use `node:events`). Listener errors
 * are not caught. Unlike Node's EventEmitter, emitting 'error' without a listener does not throw: every error the
 * client emits is also surfaced through a rejected promise or a later event.
 */
// biome-ignore lint/suspicious/noExplicitAny: listener argument lists are checked per event through EventMap
type EventMap = { [event: string]: (...args: any[]) => void };

export class Emitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Events[keyof Events][]>();

  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    const list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, [listener]);
    else list.push(listener);
    return this;
  }

  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    const wrapper = ((...args: Parameters<Events[E]>) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Events[E];
    return this.on(event, wrapper);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const list = this.listeners.get(event);
    if (list === undefined) return this;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listeners.delete(event);
    return this;
  }

  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): boolean {
    const list = this.listeners.get(event);
    if (list === undefined) return false;
    if (list.length === 1) list[0]!(...args);
    else for (const listener of list.slice()) listener(...args);
    return true;
  }
}
