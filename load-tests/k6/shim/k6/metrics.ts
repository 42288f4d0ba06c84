import { declared, samples } from './runtime.js';
class Metric {
  constructor(readonly name: string, readonly type: string) {
    declared.set(name, type);
  }
  add(value: number | boolean, tags?: Record<string, string>): void {
    samples.push({ metric: this.name, type: this.type, value: Number(value), tags: tags ?? {} });
  }
}
export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
export class Trend extends Metric {
  constructor(name: string, _isTime?: boolean) {
    super(name, 'trend');
  }
}
export class Gauge extends Metric {
  constructor(name: string) {
    super(name, 'gauge');
  }
}
