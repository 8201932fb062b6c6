import { MemoryStore } from '../../../src/broker/store/memory.js';
import { runStoreSuite } from './store-suite.js';

// The reference store keeps its state in the instance: a "restart" hands the same instance to the next broker.
runStoreSuite('memory', async () => {
  const store = new MemoryStore();
  await store.open();
  return {
    store,
    reopen: async () => {
      await store.open();
      return store;
    },
    cleanup: async () => {
      await store.close();
    },
  };
});
