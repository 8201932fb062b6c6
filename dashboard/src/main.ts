/**
 * The Midge dashboard: live rates (1 s, over Server-Sent Events), clients (search, kick), a topic tree of the
 * topics carrying traffic, retained messages (view, delete) and a publish/subscribe console. Plain TypeScript.
 */
import {
  type Client,
  getToken,
  type Page,
  type RateSample,
  type Retained,
  request,
  type StreamMessage,
  setToken,
  streamEvents,
  type TopicSnapshot,
  UnauthorizedError,
} from './api.js';
import { formatBytes, formatNumber, LineChart } from './chart.js';
import { $, debounce, h, prettyPayload, timeAgo } from './dom.js';
import './style.css';

// ─── theme ───────────────────────────────────────────────────────────────────────────────────────────────────────

const THEME_KEY = 'midge.theme';
const prefersDark = window.matchMedia('(prefers-color-scheme: dark)');

function applyTheme(): void {
  const chosen = localStorage.getItem(THEME_KEY);
  const theme = chosen === 'dark' || chosen === 'light' ? chosen : prefersDark.matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = theme;
  for (const chart of charts) chart.draw();
}
prefersDark.addEventListener('change', applyTheme);

// ─── layout ──────────────────────────────────────────────────────────────────────────────────────────────────────

const kpi = (id: string, label: string, hint: string) =>
  h(
    'div',
    { class: 'card kpi', 'data-testid': `kpi-${id}` },
    h('div', { class: 'kpi-label' }, label),
    h('div', { class: 'kpi-value', id: `kpi-${id}` }, '–'),
    h('div', { class: 'kpi-hint', id: `kpi-${id}-hint` }, hint),
  );

const chartCard = (id: string, title: string, legend: [string, string][]) =>
  h(
    'section',
    { class: 'card chart-card' },
    h(
      'header',
      { class: 'card-head' },
      h('h2', {}, title),
      h(
        'div',
        { class: 'legend' },
        ...legend.map(([label, color]) => h('span', { class: 'legend-item', style: `--dot: var(${color})` }, label)),
      ),
    ),
    h('div', { class: 'chart', id: `chart-${id}`, 'data-testid': `chart-${id}` }),
  );

const tabs = ['clients', 'topics', 'retained', 'console'] as const;
type Tab = (typeof tabs)[number];
const tabLabels: Record<Tab, string> = {
  clients: 'Clients',
  topics: 'Topic tree',
  retained: 'Retained',
  console: 'Publish / subscribe',
};

const app = $('#app');
app.append(
  h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'brand' },
      h('span', { class: 'logo', 'aria-hidden': 'true' }),
      h('span', { class: 'brand-name' }, 'Midge'),
      h('span', { class: 'brand-sub' }, 'MQTT broker'),
    ),
    h(
      'div',
      { class: 'topbar-right' },
      h('span', { class: 'pill', id: 'status', 'data-state': 'connecting' }, 'connecting'),
      h('span', { class: 'uptime', id: 'uptime' }),
      h('button', { class: 'btn ghost small', id: 'token-btn', title: 'Admin token' }, 'Token'),
      h('button', { class: 'icon-btn', id: 'theme-btn', title: 'Toggle theme', 'aria-label': 'Toggle theme' }, '◐'),
    ),
  ),
  h(
    'main',
    {},
    h(
      'section',
      { class: 'kpis' },
      kpi('connections', 'Connections', 'clients online'),
      kpi('in', 'Messages in', 'per second'),
      kpi('out', 'Messages out', 'per second'),
      kpi('dropped', 'Dropped', 'per second'),
      kpi('subscriptions', 'Subscriptions', ''),
      kpi('retained', 'Retained', 'messages'),
      kpi('sessions', 'Sessions', ''),
    ),
    h(
      'section',
      { class: 'charts' },
      chartCard('messages', 'Message rate', [
        ['in', '--series-1'],
        ['out', '--series-2'],
      ]),
      chartCard('connections', 'Connections', [['clients', '--series-3']]),
      chartCard('dropped', 'Dropped messages', [['per second', '--series-4']]),
    ),
    h(
      'nav',
      { class: 'tabs', role: 'tablist' },
      ...tabs.map((tab) =>
        h('button', { class: 'tab', role: 'tab', 'data-tab': tab, onclick: () => showTab(tab) }, tabLabels[tab]),
      ),
    ),
    h(
      'section',
      { class: 'card panel', id: 'panel-clients', 'data-panel': 'clients' },
      h(
        'div',
        { class: 'toolbar' },
        h('input', {
          type: 'search',
          id: 'client-search',
          placeholder: 'Search client id, user name or address…',
          'aria-label': 'Search clients',
        }),
        h('span', { class: 'muted', id: 'client-count' }),
      ),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table', id: 'clients-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Client id', 'Address', 'Protocol', 'Keep alive', 'Subs', 'Queued', 'In-flight', 'Connected', ''].map(
                (c) => h('th', {}, c),
              ),
            ),
          ),
          h('tbody', { id: 'clients-body' }),
        ),
      ),
      h(
        'div',
        { class: 'pager' },
        h('button', { class: 'btn ghost', id: 'clients-prev' }, '‹ Prev'),
        h('span', { class: 'muted', id: 'clients-page' }),
        h('button', { class: 'btn ghost', id: 'clients-next' }, 'Next ›'),
      ),
    ),
    h(
      'section',
      { class: 'card panel split', id: 'panel-topics', 'data-panel': 'topics' },
      h(
        'div',
        { class: 'split-main' },
        h(
          'div',
          { class: 'toolbar' },
          h('input', {
            type: 'search',
            id: 'topic-search',
            placeholder: 'Filter topics…',
            'aria-label': 'Filter topics',
          }),
          h('span', { class: 'muted', id: 'topic-count' }),
        ),
        h('div', { class: 'tree', id: 'topic-tree', role: 'tree' }),
      ),
      h('aside', { class: 'split-side', id: 'topic-detail' }, h('p', { class: 'muted' }, 'Select a topic.')),
    ),
    h(
      'section',
      { class: 'card panel split', id: 'panel-retained', 'data-panel': 'retained' },
      h(
        'div',
        { class: 'split-main' },
        h(
          'div',
          { class: 'toolbar' },
          h('input', { id: 'retained-filter', value: '#', 'aria-label': 'Topic filter', placeholder: 'Topic filter' }),
          h('button', { class: 'btn', id: 'retained-refresh' }, 'Refresh'),
          h('span', { class: 'muted', id: 'retained-count' }),
        ),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table' },
            h('thead', {}, h('tr', {}, ...['Topic', 'QoS', 'Size', 'Payload', ''].map((c) => h('th', {}, c)))),
            h('tbody', { id: 'retained-body' }),
          ),
        ),
      ),
      h('aside', { class: 'split-side', id: 'retained-detail' }, h('p', { class: 'muted' }, 'Select a message.')),
    ),
    h(
      'section',
      { class: 'card panel console', id: 'panel-console', 'data-panel': 'console' },
      h(
        'form',
        { class: 'publish', id: 'publish-form' },
        h('h2', {}, 'Publish'),
        h('label', {}, 'Topic', h('input', { name: 'topic', required: true, placeholder: 'sensors/kitchen/temp' })),
        h('label', {}, 'Payload', h('textarea', { name: 'payload', rows: 5, placeholder: '{"celsius": 21.5}' })),
        h(
          'div',
          { class: 'row' },
          h(
            'label',
            {},
            'QoS',
            h(
              'select',
              { name: 'qos' },
              h('option', { value: '0' }, '0'),
              h('option', { value: '1' }, '1'),
              h('option', { value: '2' }, '2'),
            ),
          ),
          h(
            'label',
            {},
            'Encoding',
            h(
              'select',
              { name: 'encoding' },
              h('option', { value: 'utf8' }, 'UTF-8'),
              h('option', { value: 'base64' }, 'base64'),
            ),
          ),
          h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'retain' }), 'Retain'),
        ),
        h(
          'div',
          { class: 'row' },
          h('button', { class: 'btn primary', type: 'submit' }, 'Publish'),
          h('span', { class: 'muted', id: 'publish-result' }),
        ),
      ),
      h(
        'div',
        { class: 'subscribe' },
        h('h2', {}, 'Subscribe'),
        h(
          'form',
          { class: 'row', id: 'subscribe-form' },
          h('input', { name: 'filter', value: '#', 'aria-label': 'Topic filter', required: true }),
          h('button', { class: 'btn primary', type: 'submit', id: 'subscribe-btn' }, 'Subscribe'),
        ),
        h(
          'p',
          { class: 'muted small', id: 'subscribe-state' },
          'Live view of the messages matching a filter (at most 50 per second).',
        ),
        h('ol', { class: 'messages', id: 'messages' }),
      ),
    ),
  ),
  h(
    'dialog',
    { id: 'login' },
    h(
      'form',
      { method: 'dialog', id: 'login-form' },
      h('h2', {}, 'Admin token'),
      h('p', { class: 'muted' }, 'This broker requires a token (--admin-token). It is kept in this browser only.'),
      h('input', {
        type: 'password',
        name: 'token',
        id: 'token-input',
        autocomplete: 'current-password',
        placeholder: 'token',
      }),
      h('div', { class: 'row end' }, h('button', { class: 'btn primary', value: 'ok' }, 'Sign in')),
    ),
  ),
);

// ─── charts and live rates ───────────────────────────────────────────────────────────────────────────────────────

const messagesChart = new LineChart($('#chart-messages'), [
  { label: 'in', color: '--series-1', values: [] },
  { label: 'out', color: '--series-2', values: [] },
]);
const connectionsChart = new LineChart($('#chart-connections'), [
  { label: 'clients', color: '--series-3', values: [] },
]);
const droppedChart = new LineChart($('#chart-dropped'), [{ label: 'dropped', color: '--series-4', values: [] }]);
const charts = [messagesChart, connectionsChart, droppedChart];
applyTheme();

let startedAt = 0;

function showSample(s: RateSample): void {
  $('#kpi-connections').textContent = formatNumber(s.connections);
  $('#kpi-in').textContent = formatNumber(s.messagesInPerSecond);
  $('#kpi-in-hint').textContent = `per second · ${formatBytes(s.bytesInPerSecond)}/s`;
  $('#kpi-out').textContent = formatNumber(s.messagesOutPerSecond);
  $('#kpi-out-hint').textContent = `per second · ${formatBytes(s.bytesOutPerSecond)}/s`;
  $('#kpi-dropped').textContent = formatNumber(s.droppedPerSecond);
  $('#kpi-dropped').classList.toggle('warn', s.droppedPerSecond > 0);
  $('#kpi-subscriptions').textContent = formatNumber(s.subscriptions);
  $('#kpi-retained').textContent = formatNumber(s.retained);
  $('#kpi-sessions').textContent = formatNumber(s.sessions);
}

function pushSample(s: RateSample): void {
  messagesChart.push(s.t, [s.messagesInPerSecond, s.messagesOutPerSecond]);
  connectionsChart.push(s.t, [s.connections]);
  droppedChart.push(s.t, [s.droppedPerSecond]);
  showSample(s);
}

setInterval(() => {
  if (startedAt > 0) $('#uptime').textContent = `up ${timeAgo(startedAt)}`;
}, 1000);

// ─── topics ──────────────────────────────────────────────────────────────────────────────────────────────────────

const topics = new Map<string, TopicSnapshot>();
const expanded = new Set<string>(['']);
let selectedTopic: string | undefined;
const flashed = new Set<string>();

interface TreeNode {
  name: string;
  path: string;
  children: Map<string, TreeNode>;
  topic: TopicSnapshot | undefined;
  count: number;
  rate: number;
  topics: number;
}

function buildTree(filter: string): TreeNode {
  const root: TreeNode = { name: '', path: '', children: new Map(), topic: undefined, count: 0, rate: 0, topics: 0 };
  for (const t of topics.values()) {
    if (filter !== '' && !t.topic.toLowerCase().includes(filter)) continue;
    let node = root;
    const levels = t.topic.split('/');
    const chain: TreeNode[] = [root];
    levels.forEach((level, i) => {
      const path = levels.slice(0, i + 1).join('/');
      let child = node.children.get(level);
      if (child === undefined) {
        child = { name: level, path, children: new Map(), topic: undefined, count: 0, rate: 0, topics: 0 };
        node.children.set(level, child);
      }
      node = child;
      chain.push(node);
    });
    node.topic = t;
    for (const n of chain) {
      n.count += t.count;
      n.rate += t.rate;
      n.topics++;
    }
  }
  return root;
}

function renderTree(): void {
  const filter = ($('#topic-search') as HTMLInputElement).value.trim().toLowerCase();
  const root = buildTree(filter);
  const container = $('#topic-tree');
  const rows: HTMLElement[] = [];
  const walk = (node: TreeNode, depth: number) => {
    const children = [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const child of children) {
      const hasChildren = child.children.size > 0;
      const open = filter !== '' || expanded.has(child.path);
      rows.push(
        h(
          'div',
          {
            class: `node${child.path === selectedTopic ? ' selected' : ''}${flashed.has(child.path) ? ' flash' : ''}`,
            role: 'treeitem',
            'data-topic': child.path,
            'aria-expanded': hasChildren ? String(open) : undefined,
            style: `--depth: ${depth}`,
            onclick: () => {
              if (hasChildren && (child.topic === undefined || selectedTopic === child.path)) {
                if (expanded.has(child.path)) expanded.delete(child.path);
                else expanded.add(child.path);
              }
              if (child.topic !== undefined) selectedTopic = child.path;
              renderTree();
            },
          },
          h('span', { class: 'twisty' }, hasChildren ? (open ? '▾' : '▸') : ''),
          h('span', { class: 'node-name' }, child.name === '' ? '∅' : child.name),
          child.topic !== undefined
            ? h(
                'span',
                { class: 'node-preview' },
                child.topic.binary ? `⟨binary ${child.topic.size} B⟩` : child.topic.preview,
              )
            : h('span', { class: 'node-preview muted' }, `${child.topics} topics`),
          h(
            'span',
            { class: 'node-rate', title: 'messages per second' },
            child.rate > 0 ? `${formatNumber(child.rate)}/s` : '',
          ),
          h('span', { class: 'node-count', title: 'messages' }, formatNumber(child.count)),
        ),
      );
      if (hasChildren && open) walk(child, depth + 1);
    }
  };
  walk(root, 0);
  container.replaceChildren(...rows);
  if (rows.length === 0)
    container.append(h('p', { class: 'muted empty' }, 'No traffic yet: topics appear here as messages flow.'));
  $('#topic-count').textContent = `${topics.size} topics`;
  renderTopicDetail();
}

function renderTopicDetail(): void {
  const side = $('#topic-detail');
  const t = selectedTopic !== undefined ? topics.get(selectedTopic) : undefined;
  if (t === undefined) {
    side.replaceChildren(h('p', { class: 'muted' }, 'Select a topic to see its last message.'));
    return;
  }
  side.replaceChildren(
    h('h3', { class: 'mono break' }, t.topic),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Rate'),
      h('dd', {}, `${formatNumber(t.rate)} msg/s`),
      h('dt', {}, 'Messages'),
      h('dd', {}, formatNumber(t.count)),
      h('dt', {}, 'Last'),
      h('dd', {}, `${timeAgo(t.lastAt)} ago · QoS ${t.qos}${t.retain ? ' · retained' : ''} · ${formatBytes(t.size)}`),
    ),
    h(
      'pre',
      { class: 'payload' },
      t.binary ? `base64: ${t.preview}` : prettyPayload(t.preview),
      t.truncated ? '…' : '',
    ),
    h(
      'button',
      {
        class: 'btn ghost',
        onclick: () => {
          const form = $('#publish-form') as HTMLFormElement;
          (form.elements.namedItem('topic') as HTMLInputElement).value = t.topic;
          showTab('console');
        },
      },
      'Publish to this topic',
    ),
  );
}

function mergeTopics(list: TopicSnapshot[], flash: boolean): void {
  flashed.clear();
  for (const t of list) {
    topics.set(t.topic, t);
    if (flash && t.rate > 0) {
      const levels = t.topic.split('/');
      for (let i = 1; i <= levels.length; i++) flashed.add(levels.slice(0, i).join('/'));
    }
  }
  if (currentTab === 'topics') renderTree();
}

// ─── clients ─────────────────────────────────────────────────────────────────────────────────────────────────────

const PAGE = 50;
let clientsOffset = 0;
const armedKicks = new Map<string, ReturnType<typeof setTimeout>>();

async function loadClients(): Promise<void> {
  const q = ($('#client-search') as HTMLInputElement).value.trim();
  const page = await request<Page<Client>>(
    'GET',
    `api/v1/clients?q=${encodeURIComponent(q)}&offset=${clientsOffset}&limit=${PAGE}`,
  );
  const body = $('#clients-body');
  body.replaceChildren(
    ...page.items.map((c) =>
      h(
        'tr',
        { 'data-client-id': c.clientId },
        h(
          'td',
          { class: 'mono strong' },
          c.clientId,
          c.username !== null ? h('span', { class: 'muted small' }, ` · ${c.username}`) : null,
        ),
        h('td', { class: 'mono' }, c.address ?? '–'),
        h('td', {}, h('span', { class: 'badge' }, `MQTT ${c.protocol}`)),
        h('td', {}, c.keepAlive > 0 ? `${c.keepAlive}s` : 'off'),
        h('td', { class: 'num' }, c.subscriptions),
        h('td', { class: 'num' }, c.queued),
        h('td', { class: 'num' }, c.inflight),
        h('td', { title: c.connectedAt }, timeAgo(c.connectedAt)),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              class: `btn danger small${armedKicks.has(c.clientId) ? ' armed' : ''}`,
              'data-kick': c.clientId,
              onclick: (event: Event) => kick(c.clientId, event.currentTarget as HTMLButtonElement),
            },
            armedKicks.has(c.clientId) ? 'Confirm' : 'Kick',
          ),
        ),
      ),
    ),
  );
  if (page.items.length === 0) {
    body.append(
      h(
        'tr',
        {},
        h('td', { colspan: 9, class: 'muted empty' }, q === '' ? 'No clients connected.' : 'No client matches.'),
      ),
    );
  }
  $('#client-count').textContent = `${page.total} connected`;
  $('#clients-page').textContent =
    page.total === 0 ? '' : `${page.offset + 1}–${Math.min(page.offset + page.limit, page.total)} of ${page.total}`;
  ($('#clients-prev') as HTMLButtonElement).disabled = clientsOffset === 0;
  ($('#clients-next') as HTMLButtonElement).disabled = page.offset + page.limit >= page.total;
}

/** First click arms the button, the second (within 4 s) disconnects the client (DISCONNECT 0x98 for MQTT 5.0). */
async function kick(clientId: string, button: HTMLButtonElement): Promise<void> {
  if (!armedKicks.has(clientId)) {
    button.textContent = 'Confirm';
    button.classList.add('armed');
    armedKicks.set(
      clientId,
      setTimeout(() => {
        armedKicks.delete(clientId);
        button.textContent = 'Kick';
        button.classList.remove('armed');
      }, 4000),
    );
    return;
  }
  clearTimeout(armedKicks.get(clientId));
  armedKicks.delete(clientId);
  button.disabled = true;
  try {
    await request('DELETE', `api/v1/clients/${encodeURIComponent(clientId)}`);
    toast(`Disconnected ${clientId}`);
  } catch (error) {
    toast((error as Error).message, true);
  }
  await loadClients().catch(handleError);
}

// ─── retained ────────────────────────────────────────────────────────────────────────────────────────────────────

let selectedRetained: string | undefined;

async function loadRetained(): Promise<void> {
  const filter = ($('#retained-filter') as HTMLInputElement).value.trim() || '#';
  const body = $('#retained-body');
  let page: Page<Retained>;
  try {
    page = await request<Page<Retained>>('GET', `api/v1/retained?filter=${encodeURIComponent(filter)}&limit=500`);
  } catch (error) {
    if (error instanceof UnauthorizedError) throw error;
    body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'error' }, (error as Error).message)));
    return;
  }
  body.replaceChildren(
    ...page.items.map((r) =>
      h(
        'tr',
        {
          'data-retained': r.topic,
          class: r.topic === selectedRetained ? 'selected' : undefined,
          onclick: () => void showRetained(r.topic),
        },
        h('td', { class: 'mono strong break' }, r.topic),
        h('td', {}, r.qos),
        h('td', { class: 'num' }, formatBytes(r.size)),
        h('td', { class: 'mono ellipsis' }, r.encoding === 'base64' ? `⟨binary⟩ ${r.payload}` : r.payload),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              class: 'btn danger small',
              'data-delete-retained': r.topic,
              onclick: (event: Event) => {
                event.stopPropagation();
                void deleteRetained(r.topic);
              },
            },
            'Delete',
          ),
        ),
      ),
    ),
  );
  if (page.items.length === 0)
    body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted empty' }, 'No retained messages match.')));
  $('#retained-count').textContent = `${page.total} messages`;
}

async function showRetained(topic: string): Promise<void> {
  selectedRetained = topic;
  const side = $('#retained-detail');
  try {
    const r = await request<Retained & { publisherId: string | null; expiresAt: string | null }>(
      'GET',
      `api/v1/retained/${topic.split('/').map(encodeURIComponent).join('/')}`,
    );
    side.replaceChildren(
      h('h3', { class: 'mono break' }, r.topic),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'QoS'),
        h('dd', {}, r.qos),
        h('dt', {}, 'Size'),
        h('dd', {}, formatBytes(r.size)),
        h('dt', {}, 'Publisher'),
        h('dd', { class: 'mono' }, r.publisherId ?? '(broker)'),
        h('dt', {}, 'Expires'),
        h('dd', {}, r.expiresAt ?? 'never'),
      ),
      h('pre', { class: 'payload' }, r.encoding === 'base64' ? `base64: ${r.payload}` : prettyPayload(r.payload)),
      h('button', { class: 'btn danger', onclick: () => void deleteRetained(r.topic) }, 'Delete retained message'),
    );
  } catch (error) {
    side.replaceChildren(h('p', { class: 'error' }, (error as Error).message));
  }
  await loadRetained().catch(handleError);
}

async function deleteRetained(topic: string): Promise<void> {
  try {
    await request('DELETE', `api/v1/retained/${topic.split('/').map(encodeURIComponent).join('/')}`);
    toast(`Deleted the retained message of ${topic}`);
    if (selectedRetained === topic) {
      selectedRetained = undefined;
      $('#retained-detail').replaceChildren(h('p', { class: 'muted' }, 'Select a message.'));
    }
  } catch (error) {
    toast((error as Error).message, true);
  }
  await loadRetained().catch(handleError);
}

// ─── console ─────────────────────────────────────────────────────────────────────────────────────────────────────

$('#publish-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const result = $('#publish-result');
  try {
    const answer = await request<{ matched: number }>('POST', 'api/v1/publish', {
      topic: String(data.get('topic') ?? ''),
      payload: String(data.get('payload') ?? ''),
      encoding: String(data.get('encoding') ?? 'utf8'),
      qos: Number(data.get('qos') ?? 0),
      retain: data.get('retain') !== null,
    });
    result.className = 'ok';
    result.textContent = `Published · ${answer.matched} subscriber${answer.matched === 1 ? '' : 's'}`;
  } catch (error) {
    result.className = 'error';
    result.textContent = (error as Error).message;
  }
});

let subscription: AbortController | undefined;

$('#subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const button = $('#subscribe-btn');
  if (subscription !== undefined) {
    subscription.abort();
    subscription = undefined;
    button.textContent = 'Subscribe';
    $('#subscribe-state').textContent = 'Unsubscribed.';
    return;
  }
  const filter = String(new FormData(event.currentTarget as HTMLFormElement).get('filter') ?? '#');
  subscription = new AbortController();
  button.textContent = 'Unsubscribe';
  $('#messages').replaceChildren();
  void streamEvents(
    `api/v1/stream?filter=${encodeURIComponent(filter)}`,
    (name, data) => {
      if (name === 'message') addMessage(data as StreamMessage);
      if (name === 'skipped')
        $('#subscribe-state').textContent =
          `Subscribed to ${filter} · ${(data as { skipped: number }).skipped} messages skipped in the last second (rate limit)`;
      if (name === 'subscribed') $('#subscribe-state').textContent = `Subscribed to ${filter}`;
    },
    (state) => {
      if (state === 'unauthorized') askToken();
    },
    subscription.signal,
  );
});

function addMessage(m: StreamMessage): void {
  const list = $('#messages');
  list.prepend(
    h(
      'li',
      {},
      h(
        'div',
        { class: 'msg-head' },
        h('span', { class: 'mono strong break' }, m.topic),
        h(
          'span',
          { class: 'muted small' },
          `QoS ${m.qos}${m.retain ? ' · retained' : ''} · ${formatBytes(m.size)} · ${new Date(m.t).toLocaleTimeString()}`,
        ),
      ),
      h(
        'pre',
        { class: 'payload small' },
        m.encoding === 'base64' ? `base64: ${m.payload}` : m.payload,
        m.truncated ? '…' : '',
      ),
    ),
  );
  while (list.childElementCount > 200) list.lastElementChild?.remove();
}

// ─── tabs, token, errors ─────────────────────────────────────────────────────────────────────────────────────────

let currentTab: Tab = 'clients';

function showTab(tab: Tab): void {
  currentTab = tab;
  location.hash = tab;
  for (const el of document.querySelectorAll<HTMLElement>('[data-tab]')) {
    el.setAttribute('aria-selected', String(el.dataset.tab === tab));
  }
  for (const el of document.querySelectorAll<HTMLElement>('[data-panel]')) el.hidden = el.dataset.panel !== tab;
  if (tab === 'clients') void loadClients().catch(handleError);
  if (tab === 'topics') renderTree();
  if (tab === 'retained') void loadRetained().catch(handleError);
}

function toast(text: string, error = false): void {
  const el = h('div', { class: `toast${error ? ' error' : ''}`, role: 'status' }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 3500);
}

function askToken(): void {
  const dialog = $('#login') as HTMLDialogElement;
  if (!dialog.open) dialog.showModal();
}

function handleError(error: unknown): void {
  if (error instanceof UnauthorizedError) askToken();
  else console.warn(error);
}

$('#login-form').addEventListener('submit', () => {
  setToken(($('#token-input') as HTMLInputElement).value.trim());
  connectLive();
  showTab(currentTab);
});
$('#token-btn').addEventListener('click', () => {
  ($('#token-input') as HTMLInputElement).value = getToken();
  askToken();
});
$('#theme-btn').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem(THEME_KEY, next);
  applyTheme();
});
$('#client-search').addEventListener(
  'input',
  debounce(() => {
    clientsOffset = 0;
    void loadClients().catch(handleError);
  }, 200),
);
$('#clients-prev').addEventListener('click', () => {
  clientsOffset = Math.max(0, clientsOffset - PAGE);
  void loadClients().catch(handleError);
});
$('#clients-next').addEventListener('click', () => {
  clientsOffset += PAGE;
  void loadClients().catch(handleError);
});
$('#topic-search').addEventListener('input', debounce(renderTree, 150));
$('#retained-refresh').addEventListener('click', () => void loadRetained().catch(handleError));
$('#retained-filter').addEventListener('keydown', (event) => {
  if ((event as KeyboardEvent).key === 'Enter') void loadRetained().catch(handleError);
});

// ─── live connection ─────────────────────────────────────────────────────────────────────────────────────────────

let live: AbortController | undefined;

function setStatus(state: 'live' | 'offline' | 'locked'): void {
  const pill = $('#status');
  pill.dataset.state = state;
  pill.textContent = state;
}

function connectLive(): void {
  live?.abort();
  live = new AbortController();
  void streamEvents(
    'api/v1/events',
    (name, data) => {
      if (name === 'hello') {
        const hello = data as { history: RateSample[]; topics: TopicSnapshot[]; stats: { startedAt: string } };
        startedAt = new Date(hello.stats.startedAt).getTime();
        for (const chart of charts) chart.reset();
        for (const s of hello.history) pushSample(s);
        mergeTopics(hello.topics, false);
      } else if (name === 'rates') {
        pushSample(data as RateSample);
        if (currentTab === 'clients') void loadClients().catch(handleError);
      } else if (name === 'topics') {
        mergeTopics(data as TopicSnapshot[], true);
      }
    },
    (state) => {
      if (state === 'unauthorized') {
        setStatus('locked');
        askToken();
      } else setStatus(state === 'open' ? 'live' : 'offline');
    },
    live.signal,
  );
}

const initial = location.hash.slice(1);
showTab((tabs as readonly string[]).includes(initial) ? (initial as Tab) : 'clients');
connectLive();
