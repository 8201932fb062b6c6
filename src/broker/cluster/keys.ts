/** Every Redis key and channel of a cluster, by name (docs/cluster.md, "Key layout"). */
/** The Redis keys and channels of a cluster (prefix P). */
export class ClusterKeys {
  readonly nodes: string;
  readonly info: string;
  readonly retained: string;
  readonly filtersChannel: string;
  readonly membership: string;
  readonly owners: string;

  constructor(readonly prefix: string) {
    this.nodes = `${prefix}nodes`;
    this.info = `${prefix}info`;
    this.retained = `${prefix}retained`;
    this.filtersChannel = `${prefix}filters`;
    this.membership = `${prefix}membership`;
    this.owners = `${prefix}owners`;
  }

  alive(id: string): string {
    return `${this.prefix}alive:${id}`;
  }

  filters(id: string): string {
    return `${this.prefix}filters:${id}`;
  }

  stream(id: string): string {
    return `${this.prefix}stream:${id}`;
  }

  control(id: string): string {
    return `${this.prefix}ctl:${id}`;
  }

  wills(id: string): string {
    return `${this.prefix}wills:${id}`;
  }

  handoff(request: string): string {
    return `${this.prefix}handoff:${request}`;
  }

  adoptLock(id: string): string {
    return `${this.prefix}adopt:${id}`;
  }

  adopted(id: string): string {
    return `${this.prefix}adopted:${id}`;
  }
}
