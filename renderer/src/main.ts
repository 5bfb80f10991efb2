import { mount } from 'svelte';
import App from './App.svelte';
import { connectApi } from './api.js';
import { Session } from './state/session.svelte.js';
import './app.css';

const { api, host } = connectApi();
const session = new Session(api, host);
mount(App, { target: document.getElementById('app')!, props: { session } });
void session.start();
