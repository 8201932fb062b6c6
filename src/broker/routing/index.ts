export { RetainedStore } from './retained-store.js';
export { ShareGroup, type ShareMember } from './shared.js';
export {
  type Delivery,
  type SubscriptionChangeObserver,
  type SubscriptionOptions,
  SubscriptionTrie,
} from './subscription-trie.js';
export {
  isDollarTopic,
  LEVEL_SEPARATOR,
  MULTI_LEVEL_WILDCARD,
  parseSharedFilter,
  SHARE_PREFIX,
  SINGLE_LEVEL_WILDCARD,
  topicMatches,
} from './topic.js';
