import { mount } from 'svelte';
import '../app.css';
import CallPage from './CallPage.svelte';
import PatientPage from '../patientpage/PatientPage.svelte';

// One page, two doors: the doctor's one-time code from ClinicDesk on this computer (`#code=`), or the
// patient's link from the clinic's text (`#t=`).
const target = document.getElementById('app');
if (!target) throw new Error('ClinicDesk: #app is missing from call.html');
const patient = new URLSearchParams(location.hash.replace(/^#/, '')).has('t');
export default patient ? mount(PatientPage, { target }) : mount(CallPage, { target });
