import { mount } from 'svelte';
import App from './App.svelte';
import { connectApi } from './api.js';
import { Session } from './state/session.svelte.js';
import { Router } from './state/router.svelte.js';
import './app.css';

const { api, host } = connectApi();
const session = new Session(api, host);
// The address names the screen and experiment before the first lists arrive, so a reload shows them at once.
new Router(session, window).start();
mount(App, { target: document.getElementById('app')!, props: { session } });
void session.start();
