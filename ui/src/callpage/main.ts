import { mount } from 'svelte';
import '../app.css';
import CallPage from './CallPage.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('ClinicDesk: #app is missing from call.html');
export default mount(CallPage, { target });
