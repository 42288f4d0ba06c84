import { current } from './runtime.js';
export default {
  get scenario() {
    const c = current();
    return { name: c.scenario, iterationInTest: c.iterationInTest };
  },
  get vu() {
    const c = current();
    return { idInTest: c.vu };
  },
};
